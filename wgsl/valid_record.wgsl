// valid_record: for the one-kernel-per-node plan, records the validation loss of the epoch that
// just ended (computed by the forward kernels of the validation set, with the parameters as the
// epoch left them) at the epoch's validation slot, as valid_finish.wgsl does for the fused plans.
// One invocation.

{{CONTROL}}

@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> records: array<f32>;
@group(0) @binding(2) var<storage, read> control: array<u32>;

@compute @workgroup_size(1)
fn main() {
  let e = control[C_EPOCH];
  let to = control[C_VALID_AT] + max(e, 1u) - 1u;
  if (e > 0u && to < arrayLength(&records)) {
    records[to] = loss[0];
  }
}
