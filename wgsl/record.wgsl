// record: appends this epoch's loss to the history buffer and advances the epoch counter, both on
// the device, so a run of many epochs needs no read until the end. One invocation.

@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read_write> history: array<f32>;
@group(0) @binding(2) var<storage, read_write> epoch: array<u32>;

@compute @workgroup_size(1)
fn main() {
  let e = epoch[0];
  if (e < arrayLength(&history)) {
    history[e] = loss[0];
  }
  epoch[0] = e + 1u;
}
