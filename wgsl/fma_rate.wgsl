// fma_rate: the adapter's multiply-add rate, for the benchmark's compute floor (as stream_read is
// for its bandwidth floor). Each invocation runs four independent vec4 chains of ITER fused
// multiply-adds in registers, 32 flops an iteration, and writes their sum (so nothing can be
// optimized away). No memory is read: the time is arithmetic alone.

override WG: u32 = 64;
override ITER: u32 = 4096;

@group(0) @binding(0) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let seed = f32(gid.x) * 1e-6;
  var a = vec4f(seed, 0.25, 0.5, 0.75);
  var b = a + vec4f(0.125);
  var c = a * 0.5;
  var d = b * 0.5;
  let m = vec4f(0.9999);
  let s = vec4f(1e-4);
  for (var i = 0u; i < ITER; i++) {
    a = fma(a, m, s);
    b = fma(b, m, s);
    c = fma(c, m, s);
    d = fma(d, m, s);
  }
  let t = a + b + c + d;
  sums[gid.x] = t.x + t.y + t.z + t.w;
}
