// matmul_tile: out[i, j] = sum_p A(i, p) B(p, j), as matmul.wgsl, with each invocation computing a
// 4 x 4 block of the output (4 x 8 where WIDE: two blocks side by side sharing A's) from 4 x 4
// blocks of the operands, each read as four vec4s. On lavapipe a storage read costs about the same
// whatever its width and whoever else reads the address (each lane's is fetched in turn), so the
// product is bound by reads: 4 x 8 does 128 multiply-adds per 12 vec4 reads, where matmul.wgsl
// does one per two scalar reads (~10 GFLOP/s against ~0.3 at 1e4 x 256 x 256; 4 x 4 gave ~8,
// 8 x 8 and 4 x 16, whose sums no longer fit the registers, 6-8). M, N and K are multiples of 4,
// N of 8 where WIDE (the planner checks), and each operand is read along the axis it is contiguous
// on:
//   A_ALONG_P: A(i, p) = a[i * A_I + p], else A(i, p) = a[p * A_K + i];
//   B_ALONG_P: B(p, j) = b[j * B_J + p], else B(p, j) = b[p * B_K + j].
// Neighbouring lanes take neighbouring column blocks, so a subgroup shares its rows of A.
// With GROUPS > 1, workgroup row y sums the y-th slice of K and writes its partial of output o to
// out[y * M * N + o]; partials.wgsl then adds each output's partials (split-K, for a weight
// gradient's sum over rows when the output has too few blocks to fill the adapter).

override WG: u32 = 64;
override M: u32;
override N: u32;
override K: u32;
override A_I: u32 = 0u;
override A_K: u32 = 0u;
override B_K: u32 = 0u;
override B_J: u32 = 0u;
override A_ALONG_P: bool;
override B_ALONG_P: bool;
override GROUPS: u32 = 1u;
override WIDE: bool = false;

@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

/** The block of A at rows i0.., depths p..: column q holds A(i0 + r, p + q) for r = 0..3. */
fn tile_a(i0: u32, p: u32) -> mat4x4f {
  if (A_ALONG_P) {
    let s = A_I / 4u;
    let at = (i0 * A_I + p) / 4u;
    return transpose(mat4x4f(a[at], a[at + s], a[at + 2u * s], a[at + 3u * s]));
  }
  let s = A_K / 4u;
  let at = (p * A_K + i0) / 4u;
  return mat4x4f(a[at], a[at + s], a[at + 2u * s], a[at + 3u * s]);
}

{{TILE_B}}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let width = select(4u, 8u, WIDE);
  let blocksJ = N / width;
  let blocks = (M / 4u) * blocksJ;
  // Each slice of K is a whole number of 4-deep steps.
  let span = ((K / 4u + GROUPS - 1u) / GROUPS) * 4u;
  let begin = wid.y * span;
  let end = min(begin + span, K);
  for (var blk = gid.x; blk < blocks; blk += groups.x * WG) {
    let i0 = (blk / blocksJ) * 4u;
    let j0 = (blk % blocksJ) * width;
    // Column c of a sum holds out(i0 + r, j0 + c) for r = 0..3; the second one's, out(i0 + r, j0 + 4 + c).
    var sum = mat4x4f();
    var sum2 = mat4x4f();
    for (var p = begin; p < end; p += 4u) {
      let ta = tile_a(i0, p);
      sum += ta * tile_b(p, j0);
      if (WIDE) {
        sum2 += ta * tile_b(p, j0 + 4u);
      }
    }
    let at = wid.y * M * N + i0 * N + j0;
    for (var r = 0u; r < 4u; r++) {
      for (var c = 0u; c < 4u; c++) {
        out[at + r * N + c] = sum[c][r];
        if (WIDE) {
          out[at + r * N + 4u + c] = sum2[c][r];
        }
      }
    }
  }
}
