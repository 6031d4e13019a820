// epoch: the bookkeeping after a training step, for the kernels that finish one (finish.wgsl for
// the fused plans, record.wgsl for one kernel per node), which bind `records` and `control` and
// define BATCHES.

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
