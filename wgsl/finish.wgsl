// finish: the last kernel of a training step, one workgroup per model. Sums the GROUPS rows of
// partials the row passes wrote (each invocation a strided share, then a tree), then one
// invocation runs the finishing step generated from the graph: the batch's loss and every
// gradient from the sums and the parameters, and the optimizer's rule on every parameter value.
// Then `end_batch` (epoch.wgsl) records the epoch's loss after its last batch, and a snapshot of
// the parameters is stored when one is due. Many models at once: workgroup r does this for
// replicate r of REPLICATES, from its own REPLICA_GROUPS rows of partials, with its own
// parameters, optimizer state, hyperparameters and counters; its losses go to
// records[r * RUN + epoch] (no snapshots).
//
// A device with only 4 storage buffers per stage cannot bind the optimizer's state here: the
// BINDINGS then leave it out, the finishing step stores each gradient after the partials (from
// GRADS_AT) and the `update` kernel, which binds the state, applies the rule. The parameters then
// change after this kernel, so that plan keeps no snapshots.

{{CONTROL}}

override WG: u32 = 64;
override GROUPS: u32;
override N: u32;
override BATCH: u32;
override BATCHES: u32;
override REPLICA_GROUPS: u32 = 0u;
// The optimizer's second state slot starts after every replicate's first.
override STATE_SLOT: u32 = COUNT * REPLICATES;
override GRADS_AT: u32 = 0u;

// From the graph: parameters per model, and the sums over rows of all passes.
const COUNT: u32 = {{COUNT}}u;
const P: u32 = {{TOTALS}}u;

{{BINDINGS}}

{{TREE}}

{{EPOCH}}

// Snapshot `slot` (1 for the first) of the model's parameters, from `base`.
fn store_snapshot(slot: u32, base: u32) {
  for (var i = 0u; i < COUNT; i++) {
    let to = control[C_PARAMS_AT] + (slot - 1u) * COUNT + i;
    if (to < arrayLength(&records)) {
      records[to] = params[base + i];
    }
  }
}

// (diverged, batch, step, snapshot slot + 1 or 0), read once by invocation 0.
var<workgroup> step_info: vec4u;

{{OPTIMIZER}}

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
    if (info.w != 0u) {
      store_snapshot(info.w, base);
    }
  }
}
