// finish_grads: finish.wgsl for a device with only 4 storage buffers per stage. The same sums of
// the partials and the same generated finishing step, but each parameter value's gradient is
// stored after the partials (from GRADS_AT) and the `update` kernel, which can bind the optimizer's
// state, applies the rule. The parameters change after this kernel, so it keeps no snapshots.

{{CONTROL}}

override WG: u32 = 64;
override GROUPS: u32;
override N: u32;
override BATCH: u32;
override BATCHES: u32;
override REPLICA_GROUPS: u32 = 0u;
override GRADS_AT: u32;

// From the graph: parameters per model, and the sums over rows of all passes.
const COUNT: u32 = {{COUNT}}u;
const P: u32 = {{TOTALS}}u;

// The partials, then each replicate's gradients from GRADS_AT.
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> records: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: array<u32>;

{{TREE}}

{{EPOCH}}

// (diverged, batch, step, snapshot slot + 1 or 0), read once by invocation 0.
var<workgroup> step_info: vec4u;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  replica = wid.x;
  let ctr = counters(replica);
  let base = replica * COUNT;
  if (lid == 0u) {
    let b = control[ctr.batch];
    let every = control[C_PARAMS_EVERY];
    let e = control[ctr.epoch];
    let snapshot = b + 1u == BATCHES && every != 0u && (e + 1u) % every == 0u;
    step_info = vec4u(control[ctr.diverged], b, control[ctr.step] + 1u, select(0u, (e + 1u) / every, snapshot));
  }
  let info = workgroupUniformLoad(&step_info);
  if (info.x != 0u) {
    return;
  }

  var acc: array<f32, P>;
  for (var g = lid; g < GROUPS; g += WG) {
    for (var c = 0u; c < P; c++) {
      acc[c] += partials[(replica * REPLICA_GROUPS + g) * P + c];
    }
  }
  tree_sum(lid, &acc);

  if (lid == 0u) {
    let first = info.y * BATCH;
    let rows_f = f32(min(N, first + BATCH) - first);
    let short_batch = min(N, first + BATCH) - first != BATCH;
    let t = f32(info.z);
{{FINISH}}
    end_batch(ctr, info.y, info.z, batch_loss);
  }
}
