// linear_mse_update: the second fused kernel of a regression step, one workgroup.
// Sums the GROUPS rows of partials written by linear_mse_partials (each invocation a strided
// share, then a tree), turns them into the batch's loss and gradients
//   loss = Σe² / (m K),   dW = 2 Σ e x / (m K),   db = 2 Σ e / (m K)   (m rows in the batch),
// and applies the optimizer's rule to theta in place. After the epoch's last batch it records the
// epoch's loss (the mean of its batch losses) in `records`, flags a loss that diverges (control.wgsl's rule; every
// training kernel then stops), and stores a snapshot of theta when one is due.
// Many models at once: workgroup r does this for replicate r of REPLICATES, from its own
// REPLICA_GROUPS rows of partials, with its own slice of theta and state, its own hyperparameters
// and counters; its losses go to records[r * RUN + epoch] (no snapshots).

{{CONTROL}}

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const P: u32 = K * D + K + 1u;
const COUNT: u32 = P - 1u;

override WG: u32 = 64;
override GROUPS: u32;
override N: u32;
override BATCH: u32;
override BATCHES: u32;
override REPLICA_GROUPS: u32 = 0u;
// The optimizer's second state slot starts after every replicate's first.
override STATE_SLOT: u32 = COUNT * REPLICATES;

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
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  replica = wid.x;
  let at = counters(replica);
  let base = replica * COUNT;
  if (lid == 0u) {
    let b = control[at.batch];
    let every = control[C_PARAMS_EVERY];
    let e = control[at.epoch];
    let snapshot = b + 1u == BATCHES && every != 0u && (e + 1u) % every == 0u;
    step_info = vec4u(control[at.diverged], b, control[at.step] + 1u, select(0u, (e + 1u) / every, snapshot));
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

  let rows = min(N, (info.y + 1u) * BATCH) - info.y * BATCH;
  let inv = 1.0 / (f32(rows) * f32(K));
  let t = f32(info.z);
  for (var i = lid; i < COUNT; i += WG) {
    optimizer_step(base + i, 2.0 * inv * tree[i], t); // op: constant, scale, broadcastTo, mul (backward: 2 / (m K) from the mean)
    if (info.w != 0u) {
      let to = control[C_PARAMS_AT] + (info.w - 1u) * COUNT + i;
      if (to < arrayLength(&records)) {
        records[to] = params[i];
      }
    }
  }

  if (lid == 0u) {
    control[at.step] = info.z;
    let sum = bitcast<f32>(control[at.loss_sum]) + tree[P - 1u] * inv;
    if (info.y + 1u < BATCHES) {
      control[at.batch] = info.y + 1u;
      control[at.loss_sum] = bitcast<u32>(sum);
    } else {
      let e = control[at.epoch];
      let loss = sum / f32(BATCHES); // op: mean (of the batch losses)
      let to = replica * control[C_RUN] + e;
      if (to < arrayLength(&records)) {
        records[to] = loss;
      }
      let reference = reference_after(loss, bitcast<f32>(control[at.reference]));
      control[at.reference] = bitcast<u32>(reference);
      if (diverging(loss, reference)) {
        control[at.diverged] = e + 1u;
      }
      control[at.epoch] = e + 1u;
      control[at.total] = control[at.total] + 1u;
      control[at.batch] = 0u;
      control[at.loss_sum] = 0u;
    }
  }
}
