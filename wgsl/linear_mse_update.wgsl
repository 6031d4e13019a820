// linear_mse_update: the second fused kernel of a regression epoch, one workgroup.
// Sums the GROUPS rows of partials written by linear_mse_partials (each invocation a strided
// share, then a tree), turns them into the loss and the gradients
//   loss = Σe² / (n K),   dW = 2 Σ e x / (n K),   db = 2 Σ e / (n K),
// appends the loss to the history, and applies the optimizer's update to theta in place.
// control[0] is the history index, control[2] the optimizer's step count; both advance here.

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const P: u32 = K * D + K + 1u;
const COUNT: u32 = P - 1u;
const HYPER: u32 = 4u;

override WG: u32 = 64;
override GROUPS: u32;
override INV_N: f32;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;
@group(0) @binding(3) var<storage, read_write> history: array<f32>;
@group(0) @binding(4) var<storage, read_write> control: array<u32>;

var<workgroup> tree: array<f32, WG * P>;
var<workgroup> step_count: u32;

fn hyper(k: u32) -> f32 {
  return bitcast<f32>(control[HYPER + k]);
}

{{OPTIMIZER}}

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
    step_count = control[2] + 1u;
    control[2] = step_count;
  }
  workgroupBarrier();
  let t = f32(step_count);
  for (var i = lid; i < COUNT; i += WG) {
    optimizer_step(i, 2.0 * INV_N * tree[i], t);
  }
}
