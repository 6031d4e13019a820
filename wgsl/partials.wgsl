// partials: out[o] = SCALE * sum_g partials[g * OUT_COUNT + o] for g < COUNT, one lane per output:
// the second pass of a sum split into COUNT slices whose partials lie slice after slice
// (matmul_tile.wgsl's split-K, colsum.wgsl). reduce.wgsl, which gives each output a workgroup and
// a tree, suits few outputs with many partials; this suits many outputs with few.

override WG: u32 = 64;
override OUT_COUNT: u32;
override COUNT: u32;
override SCALE: f32 = 1.0;

@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var o = gid.x; o < OUT_COUNT; o += groups.x * WG) {
    var sum = 0.0;
    for (var g = 0u; g < COUNT; g++) {
      sum += partials[g * OUT_COUNT + o];
    }
    out[o] = sum * SCALE;
  }
}
