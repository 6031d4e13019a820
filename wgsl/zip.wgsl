// zip: out[r, c] = combine(a[...], b[...]) over a ROWS x COLS output, each operand read through
// its own strides (stride 0 along an axis it is broadcast over). The COMBINE hole holds the op:
// `x + y` for add, `(x - y) * (x - y)` for squaredError, and so on.

override WG: u32 = 64;
override ROWS: u32;
override COLS: u32;
override A_ROW_STRIDE: u32;
override A_COL_STRIDE: u32;
override B_ROW_STRIDE: u32;
override B_COL_STRIDE: u32;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn combine(x: f32, y: f32) -> f32 {
  return {{COMBINE}};
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = ROWS * COLS;
  let step = groups.x * WG;
  for (var i = gid.x; i < total; i += step) {
    let r = i / COLS;
    let c = i % COLS;
    out[i] = combine(a[r * A_ROW_STRIDE + c * A_COL_STRIDE], b[r * B_ROW_STRIDE + c * B_COL_STRIDE]);
  }
}
