// reduce: OUT_COUNT sums of COUNT elements each; element r of output o is a[o * OUT_STRIDE + r * STRIDE].
// Workgroup (g, o) sums the g-th of GROUPS contiguous slices of r: each invocation accumulates a
// strided part of the slice, then the workgroup adds its WG values as a tree in shared memory.
// With GROUPS = 1 the tree's root is the answer (times SCALE, 1/COUNT for a mean); otherwise it is
// partial g of output o, and a second dispatch of this kernel (COUNT = GROUPS) sums the partials.
// Outputs beyond the 65535 workgroups of the y dimension are reached by a grid stride.

override WG: u32 = 64;
override OUT_COUNT: u32;
override COUNT: u32;
override OUT_STRIDE: u32;
override STRIDE: u32;
override GROUPS: u32 = 1;
override SCALE: f32 = 1.0;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> tree: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let span = (COUNT + GROUPS - 1u) / GROUPS;
  let begin = wid.x * span;
  let end = min(begin + span, COUNT);
  for (var o = wid.y; o < OUT_COUNT; o += groups.y) {
    var acc = 0.0;
    for (var r = begin + lid; r < end; r += WG) {
      acc += a[o * OUT_STRIDE + r * STRIDE];
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
      out[o * GROUPS + wid.x] = tree[0] * SCALE;
    }
    workgroupBarrier();
  }
}
