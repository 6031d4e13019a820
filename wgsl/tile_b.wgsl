// tile_b: the 4 x 4 block of a product's right operand B, read as four vec4s along the axis B is
// contiguous on (B_ALONG_P: B(p, j) = b[j * B_J + p], else b[p * B_K + j]); spliced into
// matmul_tile.wgsl and matmul_team.wgsl, which declare b, B_ALONG_P, B_J and B_K.

/** The block of B at depths p.., columns j0..: column c holds B(p + q, j0 + c) for q = 0..3. */
fn tile_b(p: u32, j0: u32) -> mat4x4f {
  if (B_ALONG_P) {
    let s = B_J / 4u;
    let at = (j0 * B_J + p) / 4u;
    return mat4x4f(b[at], b[at + s], b[at + 2u * s], b[at + 3u * s]);
  }
  let s = B_K / 4u;
  let at = (p * B_K + j0) / 4u;
  return transpose(mat4x4f(b[at], b[at + s], b[at + 2u * s], b[at + 3u * s]));
}
