// matmul_team: out[i, j] = sum_p A(i, p) B(p, j), as matmul_tile.wgsl, by a team: a workgroup is
// one subgroup of LANES lanes (lavapipe: 8, one SIMD vector), which computes an 8-row band of the
// output, lane l its 4 columns of block l. Every lane needs the same
// 8 x 4 block of A at each step; rather than each reading all eight of its vec4s, lane k < 8 reads
// the k-th and subgroupBroadcast hands it to the others (a register shuffle on lavapipe, where a
// storage read costs ~30 cycles whoever reads the address). A lane then reads 5 vec4s per 128
// multiply-adds, where a 4 x 8 tile reads 12: ~20 GFLOP/s at 1e4 x 256 x 256 on lavapipe, against
// ~10 (8 columns a lane measured the same and needs twice the registers). Operands as in
// matmul_tile.wgsl:
//   A_ALONG_P: A(i, p) = a[i * A_I + p], else A(i, p) = a[p * A_K + i];
//   B_ALONG_P: B(p, j) = b[j * B_J + p], else B(p, j) = b[p * B_K + j].
// M is a multiple of 8 and N and K of 4; lanes past the last column block
// read a clamped block and store nothing. With GROUPS > 1 workgroup row y sums the y-th slice of
// K into out[y * M * N + o], and partials.wgsl adds the slices.

enable subgroups;

override LANES: u32 = 8;
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

@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

/** Vec4 k of the 8 x 4 block of A at rows i0.., depths p..: row i0 + k along p, or half k % 2 of depth p + k / 2 along i. */
fn part_a(i0: u32, p: u32, k: u32) -> vec4f {
  if (A_ALONG_P) {
    return a[((i0 + k) * A_I + p) / 4u];
  }
  return a[((p + k / 2u) * A_K + i0 + 4u * (k % 2u)) / 4u];
}

{{TILE_B}}

@compute @workgroup_size(LANES)
fn main(@builtin(subgroup_invocation_id) lane: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let blocksJ = N / 4u;
  let teamsJ = (blocksJ + LANES - 1u) / LANES;
  let teams = (M / 8u) * teamsJ;
  let span = ((K / 4u + GROUPS - 1u) / GROUPS) * 4u;
  let begin = wid.y * span;
  let end = min(begin + span, K);
  for (var t = wid.x; t < teams; t += groups.x) {
    let i0 = (t / teamsJ) * 8u;
    let jb = (t % teamsJ) * LANES + lane;
    let j0 = min(jb, blocksJ - 1u) * 4u;
    // Column c of a sum holds out(i0 + r, j0 + c), of the lower one out(i0 + 4 + r, j0 + c).
    var upper = mat4x4f();
    var lower = mat4x4f();
    for (var p = begin; p < end; p += 4u) {
      let mine = part_a(i0, p, lane % 8u);
      let v0 = subgroupBroadcast(mine, 0u);
      let v1 = subgroupBroadcast(mine, 1u);
      let v2 = subgroupBroadcast(mine, 2u);
      let v3 = subgroupBroadcast(mine, 3u);
      let v4 = subgroupBroadcast(mine, 4u);
      let v5 = subgroupBroadcast(mine, 5u);
      let v6 = subgroupBroadcast(mine, 6u);
      let v7 = subgroupBroadcast(mine, 7u);
      // Column q of a tile holds A(rows, p + q).
      var top = mat4x4f(v0, v2, v4, v6);
      var bottom = mat4x4f(v1, v3, v5, v7);
      if (A_ALONG_P) {
        top = transpose(mat4x4f(v0, v1, v2, v3));
        bottom = transpose(mat4x4f(v4, v5, v6, v7));
      }
      let tb = tile_b(p, j0);
      upper += top * tb;
      lower += bottom * tb;
    }
    if (jb < blocksJ) {
      let at = wid.y * M * N + i0 * N + j0;
      for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) {
          out[at + r * N + c] = upper[c][r];
          out[at + (r + 4u) * N + c] = lower[c][r];
        }
      }
    }
  }
}
