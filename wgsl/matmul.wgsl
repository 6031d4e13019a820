// matmul: out[i, j] = sum_p A(i, p) B(p, j) for an M x N output with a short inner dimension K
// (the planner sends long ones to matmul_splitk). A(i, p) = a[i * A_I + p * A_K] and
// B(p, j) = b[p * B_K + j * B_J], so transposed operands are just other strides.

override WG: u32 = 64;
override M: u32;
override N: u32;
override K: u32;
override A_I: u32;
override A_K: u32;
override B_K: u32;
override B_J: u32;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let step = groups.x * WG;
  for (var o = gid.x; o < M * N; o += step) {
    let i = o / N;
    let j = o % N;
    var acc = 0.0;
    for (var p = 0u; p < K; p++) {
      acc += a[i * A_I + p * A_K] * b[p * B_K + j * B_J];
    }
    out[o] = acc;
  }
}
