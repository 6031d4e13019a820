// gather: for the one-kernel-per-node plan's minibatches, copies the rows of batch control[C_BATCH]
// out of a data input holding all N training rows into the batch's own input of ROWS rows (BATCH,
// or fewer in a short last batch): positions [b BATCH, b BATCH + ROWS) of the epoch's order. With
// SHUFFLE the order is the epoch's permutation, keyed as the fused row passes key it (control.wgsl),
// so every plan, and the CPU backend, trains on the same batches. A lane per row.

{{CONTROL}}

override WG: u32 = 64;
override N: u32;
override BATCH: u32;
override ROWS: u32;
override COLS: u32;
override SHUFFLE: bool = false;
override HALF: u32 = 1u;

@group(0) @binding(0) var<storage, read> all_rows: array<f32>;
@group(0) @binding(1) var<storage, read_write> batch_rows: array<f32>;
@group(0) @binding(2) var<storage, read> control: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // After a divergence nothing trains: the batch is left as it was.
  if (control[C_DIVERGED] != 0u) {
    return;
  }
  let first = control[C_BATCH] * BATCH;
  let key = epoch_key(control[C_SEED], control[C_EPOCHS_TOTAL]);
  for (var i = gid.x; i < ROWS; i += groups.x * WG) {
    var row = first + i;
    if (SHUFFLE) {
      row = permute(row, N, key, HALF);
    }
    for (var j = 0u; j < COLS; j++) {
      batch_rows[i * COLS + j] = all_rows[row * COLS + j];
    }
  }
}
