// matmul_splitk: the M x N output of a product with a long inner dimension K (such as dW = Gᵀ X,
// where K is the number of rows). Workgroup (g, o) sums the g-th of GROUPS slices of K for output
// o = i * N + j as a tree, like reduce.wgsl, and writes partial out[o * GROUPS + g]; a reduce
// dispatch then sums the GROUPS partials of each output. Strides as in matmul.wgsl.

override WG: u32 = 64;
override M: u32;
override N: u32;
override K: u32;
override A_I: u32;
override A_K: u32;
override B_K: u32;
override B_J: u32;
override GROUPS: u32;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> tree: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let span = (K + GROUPS - 1u) / GROUPS;
  let begin = wid.x * span;
  let end = min(begin + span, K);
  for (var o = wid.y; o < M * N; o += groups.y) {
    let i = o / N;
    let j = o % N;
    var acc = 0.0;
    for (var p = begin + lid; p < end; p += WG) {
      acc += a[i * A_I + p * A_K] * b[p * B_K + j * B_J];
    }
    tree[lid] = acc;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
      if (lid < half) {
        tree[lid] += tree[lid + half];
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      out[o * GROUPS + wid.x] = tree[0];
    }
    workgroupBarrier();
  }
}
