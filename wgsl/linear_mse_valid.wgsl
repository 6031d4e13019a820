// linear_mse_valid: records the validation loss of the epoch that just ended. Sums the loss column
// of the GROUPS rows of partials that linear_mse_partials wrote over the whole validation set (with
// the parameters as the epoch left them) and stores Σe² / (N K) at the epoch's validation slot.
// Many models at once: workgroup r does this for replicate r, from its REPLICA_GROUPS rows of
// partials, at records[VALID_AT + r * RUN + epoch].

{{CONTROL}}

const P: u32 = {{P}}u;

override WG: u32 = 64;
override GROUPS: u32;
override N: u32;
override K: u32;
override REPLICA_GROUPS: u32 = 0u;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> records: array<f32>;
@group(0) @binding(2) var<storage, read> control: array<u32>;

var<workgroup> tree: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  replica = wid.x;
  var acc = 0.0;
  for (var g = lid; g < GROUPS; g += WG) {
    acc += partials[(replica * REPLICA_GROUPS + g) * P + P - 1u];
  }
  tree[lid] = acc;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      tree[lid] += tree[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let e = control[counters(replica).epoch];
    let at = control[C_VALID_AT] + replica * control[C_RUN] + max(e, 1u) - 1u;
    if (e > 0u && at < arrayLength(&records)) {
      records[at] = tree[0] / (f32(N) * f32(K));
    }
  }
}
