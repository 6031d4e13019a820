// epoch: the bookkeeping after a training step, for the kernel that finishes one (finish.wgsl),
// which binds `params`, `records` and `control` and defines BATCHES and COUNT.

// The batch's loss joins the epoch's; after the epoch's last batch, the epoch's loss (the mean of
// its batch losses) is recorded, a loss that diverges (control.wgsl's rule) flags the model as
// diverged (every training kernel then stops), and the counters move on to the next epoch.
fn end_batch(ctr: Counters, b: u32, step: u32, batch_loss: f32) {
  control[ctr.step] = step;
  let sum = bitcast<f32>(control[ctr.loss_sum]) + batch_loss;
  if (b + 1u < BATCHES) {
    control[ctr.batch] = b + 1u;
    control[ctr.loss_sum] = bitcast<u32>(sum);
    return;
  }
  let e = control[ctr.epoch];
  let loss = sum / f32(BATCHES);
  let to = replica * control[C_RUN] + e;
  if (to < arrayLength(&records)) {
    records[to] = loss;
  }
  let reference = reference_after(loss, bitcast<f32>(control[ctr.reference]));
  control[ctr.reference] = bitcast<u32>(reference);
  if (diverging(loss, reference)) {
    control[ctr.diverged] = e + 1u;
  }
  control[ctr.epoch] = e + 1u;
  control[ctr.total] = control[ctr.total] + 1u;
  control[ctr.batch] = 0u;
  control[ctr.loss_sum] = 0u;
}

// Snapshot `slot` (1 for the first) of the model's parameters, from `base`.
fn store_snapshot(slot: u32, base: u32) {
  for (var i = 0u; i < COUNT; i++) {
    let to = control[C_PARAMS_AT] + (slot - 1u) * COUNT + i;
    if (to < arrayLength(&records)) {
      records[to] = params[base + i];
    }
  }
}
