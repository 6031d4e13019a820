// record: appends this epoch's loss to the history and advances the counters, on the device, so a
// run of many epochs needs no read until the end. control[0] is the history index (reset by each
// run), control[2] the optimizer's step count (kept across runs). One invocation.

@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> history: array<f32>;
@group(0) @binding(2) var<storage, read_write> control: array<u32>;

@compute @workgroup_size(1)
fn main() {
  let e = control[0];
  if (e < arrayLength(&history)) {
    history[e] = loss[0];
  }
  control[0] = e + 1u;
  control[2] = control[2] + 1u;
}
