// linear_mse_reduce: linear_mse_update without the optimizer, for devices whose storage-buffer
// limit is too low for the fused version: sums the partials, keeps the batch and epoch
// bookkeeping (loss record, divergence flag, counters), and writes the gradient of theta to
// `grads` for the `update` kernel that follows.

{{CONTROL}}

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const P: u32 = K * D + K + 1u;

override WG: u32 = 64;
override GROUPS: u32;
override N: u32;
override BATCH: u32;
override BATCHES: u32;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> records: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: array<u32>;

{{TREE}}

var<workgroup> step_info: vec2u;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    step_info = vec2u(control[C_DIVERGED], control[C_BATCH]);
  }
  let info = workgroupUniformLoad(&step_info);
  if (info.x != 0u) {
    return;
  }
  var acc: array<f32, P>;
  for (var g = lid; g < GROUPS; g += WG) {
    for (var c = 0u; c < P; c++) {
      acc[c] += partials[g * P + c];
    }
  }
  tree_sum(lid, &acc);
  let rows = min(N, (info.y + 1u) * BATCH) - info.y * BATCH;
  let inv = 1.0 / (f32(rows) * f32(K));
  for (var i = lid; i < P - 1u; i += WG) {
    grads[i] = 2.0 * inv * tree[i];
  }
  if (lid == 0u) {
    control[C_STEP] = control[C_STEP] + 1u;
    let sum = bitcast<f32>(control[C_LOSS_SUM]) + tree[P - 1u] * inv;
    if (info.y + 1u < BATCHES) {
      control[C_BATCH] = info.y + 1u;
      control[C_LOSS_SUM] = bitcast<u32>(sum);
    } else {
      let e = control[C_EPOCH];
      let loss = sum / f32(BATCHES); // op: mean (of the batch losses)
      if (e < arrayLength(&records)) {
        records[e] = loss;
      }
      let reference = reference_after(loss, bitcast<f32>(control[C_REFERENCE]));
      control[C_REFERENCE] = bitcast<u32>(reference);
      if (diverging(loss, reference)) {
        control[C_DIVERGED] = e + 1u;
      }
      control[C_EPOCH] = e + 1u;
      control[C_EPOCHS_TOTAL] = control[C_EPOCHS_TOTAL] + 1u;
      control[C_BATCH] = 0u;
      control[C_LOSS_SUM] = 0u;
    }
  }
}
