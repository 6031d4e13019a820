// record: for the one-kernel-per-node plan, after a batch's forward pass (with full batches, the
// epoch's): counts the optimizer's step and hands the batch's loss to `end_batch` (epoch.wgsl, as
// the fused plans' finish.wgsl does), which after the epoch's last batch appends the epoch's loss
// to `records`, flags a loss that diverges (control.wgsl's rule; the update kernels then stop)
// and advances the counters, on the device, so a run of many epochs needs no read until the end.
// One invocation, before the batch's update kernels (which read the step count it wrote).

{{CONTROL}}

override BATCHES: u32 = 1u;

@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> records: array<f32>;
@group(0) @binding(2) var<storage, read_write> control: array<u32>;

{{EPOCH}}

@compute @workgroup_size(1)
fn main() {
  let ctr = counters(0u);
  if (control[ctr.diverged] != 0u) {
    return;
  }
  end_batch(ctr, control[ctr.batch], control[ctr.step] + 1u, loss[0]);
}
