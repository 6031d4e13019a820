// zip4: zip.wgsl in vec4s along the columns of a ROWS x COLS output (COLS a multiple of 4). Each
// operand is either read along the columns (A_SPLAT false: a vec4 at a[(r * A_ROW_STRIDE + c) / 4],
// the row stride a multiple of 4 or 0 for a row broadcast over the rows) or broadcast along them
// (A_SPLAT true: one value a[r * A_ROW_STRIDE] for the whole vec4, a scalar's too: the backend
// sizes every buffer in whole vec4s).

override WG: u32 = 64;
override ROWS: u32;
override COLS: u32;
override A_ROW_STRIDE: u32;
override A_SPLAT: bool = false;
override B_ROW_STRIDE: u32;
override B_SPLAT: bool = false;

@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

fn combine(x: f32, y: f32) -> f32 {
  return {{COMBINE}};
}

fn operand_a(r: u32, c: u32) -> vec4f {
  if (A_SPLAT) {
    let at = r * A_ROW_STRIDE;
    return vec4f(a[at / 4u][at % 4u]);
  }
  return a[(r * A_ROW_STRIDE + c) / 4u];
}

fn operand_b(r: u32, c: u32) -> vec4f {
  if (B_SPLAT) {
    let at = r * B_ROW_STRIDE;
    return vec4f(b[at / 4u][at % 4u]);
  }
  return b[(r * B_ROW_STRIDE + c) / 4u];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let total = ROWS * COLS / 4u;
  let step = groups.x * WG;
  for (var i = gid.x; i < total; i += step) {
    let r = (4u * i) / COLS;
    let c = (4u * i) % COLS;
    let x = operand_a(r, c);
    let y = operand_b(r, c);
    out[i] = vec4f(combine(x.x, y.x), combine(x.y, y.y), combine(x.z, y.z), combine(x.w, y.w));
  }
}
