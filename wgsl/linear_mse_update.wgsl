// linear_mse_update: the second fused kernel of a regression step, one workgroup.
// Sums the GROUPS rows of partials written by linear_mse_partials (each invocation a strided
// share, then a tree), turns them into the batch's loss and gradients
//   loss = Σe² / (m K),   dW = 2 Σ e x / (m K),   db = 2 Σ e / (m K)   (m rows in the batch),
// and applies the optimizer's rule to theta in place. After the epoch's last batch it records the
// epoch's loss (the mean of its batch losses) in `records`, flags a loss that is not finite (every
// training kernel then stops), and stores a snapshot of theta when one is due.

{{CONTROL}}

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const P: u32 = K * D + K + 1u;
const COUNT: u32 = P - 1u;
const STATE_SLOT: u32 = COUNT;

override WG: u32 = 64;
override GROUPS: u32;
override N: u32;
override BATCH: u32;
override BATCHES: u32;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;
@group(0) @binding(3) var<storage, read_write> records: array<f32>;
@group(0) @binding(4) var<storage, read_write> control: array<u32>;

{{TREE}}

// (diverged, batch, step, snapshot slot + 1 or 0), read once by invocation 0.
var<workgroup> step_info: vec4u;

{{OPTIMIZER}}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    let b = control[C_BATCH];
    let every = control[C_PARAMS_EVERY];
    let e = control[C_EPOCH];
    let snapshot = b + 1u == BATCHES && every != 0u && (e + 1u) % every == 0u;
    step_info = vec4u(control[C_DIVERGED], b, control[C_STEP] + 1u, select(0u, (e + 1u) / every, snapshot));
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
  let t = f32(info.z);
  for (var i = lid; i < COUNT; i += WG) {
    optimizer_step(i, 2.0 * inv * tree[i], t); // op: constant, scale, broadcastTo, mul (backward: 2 / (m K) from the mean)
    if (info.w != 0u) {
      let at = control[C_PARAMS_AT] + (info.w - 1u) * COUNT + i;
      if (at < arrayLength(&records)) {
        records[at] = params[i];
      }
    }
  }

  if (lid == 0u) {
    control[C_STEP] = info.z;
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
      if (!finite(loss)) {
        control[C_DIVERGED] = e + 1u;
      }
      control[C_EPOCH] = e + 1u;
      control[C_EPOCHS_TOTAL] = control[C_EPOCHS_TOTAL] + 1u;
      control[C_BATCH] = 0u;
      control[C_LOSS_SUM] = 0u;
    }
  }
}
