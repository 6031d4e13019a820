// map: out[r, c] = a[r * A_ROW_STRIDE + c * A_COL_STRIDE] * FACTOR over a ROWS x COLS output.
// One kernel for three ops: scale (FACTOR), broadcastTo (stride 0 along a broadcast axis) and
// transpose (the strides swapped). Each invocation walks the output with a grid stride, so any
// size runs within the 65535-workgroup limit.

override WG: u32 = 64;
override ROWS: u32;
override COLS: u32;
override A_ROW_STRIDE: u32;
override A_COL_STRIDE: u32;
override FACTOR: f32 = 1.0;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = ROWS * COLS;
  let step = groups.x * WG;
  for (var i = gid.x; i < total; i += step) {
    let r = i / COLS;
    let c = i % COLS;
    out[i] = a[r * A_ROW_STRIDE + c * A_COL_STRIDE] * FACTOR;
  }
}
