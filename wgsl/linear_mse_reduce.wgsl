// linear_mse_reduce: linear_mse_update without the optimizer, for devices whose storage-buffer
// limit is too low for the fused version: sums the partials, appends the loss to the history,
// advances the counters, and writes the gradient of theta to `grads` for the `update` kernel.

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const P: u32 = K * D + K + 1u;

override WG: u32 = 64;
override GROUPS: u32;
override INV_N: f32;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> history: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: array<u32>;

var<workgroup> tree: array<f32, WG * P>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc: array<f32, P>;
  for (var g = lid; g < GROUPS; g += WG) {
    for (var c = 0u; c < P; c++) {
      acc[c] += partials[g * P + c];
    }
  }
  for (var c = 0u; c < P; c++) {
    tree[lid * P + c] = acc[c];
  }
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      for (var c = 0u; c < P; c++) {
        tree[lid * P + c] += tree[(lid + half) * P + c];
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let e = control[0];
    if (e < arrayLength(&history)) {
      history[e] = tree[P - 1u] * INV_N;
    }
    control[0] = e + 1u;
    control[2] = control[2] + 1u;
  }
  for (var i = lid; i < P - 1u; i += WG) {
    grads[i] = 2.0 * INV_N * tree[i];
  }
}
