// valid_finish: records the validation loss of the epoch that just ended. Sums the GROUPS rows of
// partials the row passes wrote over the whole validation set (with the parameters as the epoch
// left them), then one invocation computes the loss from the sums (and the parameters, for a loss
// with a penalty on them) by the code generated from the graph, and stores it at the epoch's
// validation slot. Many models at once: workgroup r does this for replicate r, from its
// REPLICA_GROUPS rows of partials, at records[VALID_AT + r * RUN + epoch].

{{CONTROL}}

override WG: u32 = 64;
override GROUPS: u32;
override N: u32;
override REPLICA_GROUPS: u32 = 0u;

// From the graph: parameters per model, and the sums over rows of all validation passes.
const COUNT: u32 = {{COUNT}}u;
const P: u32 = {{TOTALS}}u;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> records: array<f32>;
@group(0) @binding(3) var<storage, read> control: array<u32>;

{{TREE}}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  replica = wid.x;
  let base = replica * COUNT;
  var acc: array<f32, P>;
  for (var g = lid; g < GROUPS; g += WG) {
    for (var c = 0u; c < P; c++) {
      acc[c] += partials[(replica * REPLICA_GROUPS + g) * P + c];
    }
  }
  tree_sum(lid, &acc);
  if (lid == 0u) {
    let rows_f = f32(N);
    let short_batch = false;
{{FINISH}}
    let e = control[counters(replica).epoch];
    let to = control[C_VALID_AT] + replica * control[C_RUN] + max(e, 1u) - 1u;
    if (e > 0u && to < arrayLength(&records)) {
      records[to] = batch_loss;
    }
  }
}
