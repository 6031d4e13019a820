// map: out[r, c] = apply(a[r * A_ROW_STRIDE + c * A_COL_STRIDE]) over a ROWS x COLS output.
// One kernel for every op of one operand: an elementwise op (the APPLY hole holds its WGSL
// expression of x, from the op table) reads the operand in order; a view copies it through its
// strides (stride 0 along a broadcast axis, swapped for a transpose). Each invocation walks the
// output with a grid stride, so any size runs within the 65535-workgroup limit.

override WG: u32 = 64;
override ROWS: u32;
override COLS: u32;
override A_ROW_STRIDE: u32;
override A_COL_STRIDE: u32;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

fn apply(x: f32) -> f32 {
  return {{APPLY}};
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = ROWS * COLS;
  let step = groups.x * WG;
  for (var i = gid.x; i < total; i += step) {
    let r = i / COLS;
    let c = i % COLS;
    out[i] = apply(a[r * A_ROW_STRIDE + c * A_COL_STRIDE]);
  }
}
