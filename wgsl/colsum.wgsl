// colsum: out[j] = SCALE * sum_r w(r) V(r, j) over the R rows of a row-major R x C matrix V
// (V(r, j) = v[r * V_ROW + j], C and V_ROW multiples of 4), with w(r) = w[r * W_STRIDE] where
// WEIGHTED, else 1: a bias's gradient (the sum over rows of its layer's gradient) and the weights'
// gradient of a layer with one output (eᵀ H). reduce.wgsl gives each output a workgroup and reads
// down a column one scalar at a time; here each lane owns a vec4 of columns and a phase of the
// rows, so neighbouring lanes read neighbouring vec4s of one row. The lanes of a workgroup are
// CB = C / 4 column blocks times PHASES row phases; workgroup y takes the y-th of GROUPS slices
// of the rows. With GROUPS * PHASES > 1 each (slice, phase) writes its partial to
// out[(y * PHASES + phase) * C + j] and partials.wgsl adds them.

override WG: u32 = 64;
override R: u32;
override C: u32;
override V_ROW: u32;
override WEIGHTED: bool = false;
override W_STRIDE: u32 = 1u;
override GROUPS: u32 = 1u;
override SCALE: f32 = 1.0;

@group(0) @binding(0) var<storage, read> v: array<vec4f>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let blocks = C / 4u;
  // Each workgroup row covers the column blocks in chunks of at most WG lanes.
  let cb = min(blocks, WG);
  let phases = max(WG / cb, 1u);
  let phase = lid / cb;
  let span = (R + GROUPS - 1u) / GROUPS;
  let begin = wid.y * span;
  let end = min(begin + span, R);
  for (var b0 = wid.x * cb; b0 < blocks; b0 += groups.x * cb) {
    let jb = b0 + lid % cb;
    if (phase >= phases || jb >= blocks) {
      continue;
    }
    var sum = vec4f();
    for (var r = begin + phase; r < end; r += phases) {
      let row = v[(r * V_ROW) / 4u + jb];
      if (WEIGHTED) {
        sum = fma(vec4f(w[r * W_STRIDE]), row, sum);
      } else {
        sum += row;
      }
    }
    out[(wid.y * phases + phase) * blocks + jb] = sum * SCALE;
  }
}
