// record: for the one-kernel-per-node plan, appends this epoch's loss to `records`, flags a loss
// that diverges (control.wgsl's rule; the update kernels then stop), and advances the counters, on the device, so
// a run of many epochs needs no read until the end. One invocation.

{{CONTROL}}

@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> records: array<f32>;
@group(0) @binding(2) var<storage, read_write> control: array<u32>;

@compute @workgroup_size(1)
fn main() {
  if (control[C_DIVERGED] != 0u) {
    return;
  }
  let e = control[C_EPOCH];
  if (e < arrayLength(&records)) {
    records[e] = loss[0];
  }
  let reference = reference_after(loss[0], bitcast<f32>(control[C_REFERENCE]));
  control[C_REFERENCE] = bitcast<u32>(reference);
  if (diverging(loss[0], reference)) {
    control[C_DIVERGED] = e + 1u;
  }
  control[C_EPOCH] = e + 1u;
  control[C_STEP] = control[C_STEP] + 1u;
  control[C_EPOCHS_TOTAL] = control[C_EPOCHS_TOTAL] + 1u;
}
