// tree: the sum over a workgroup of every invocation's running sums, in shared memory. Each
// invocation stores its values at tree[lid * P ..]; then, level by level, the lower half of the
// invocations still adding takes in the upper half's (log2 WG levels, one barrier each), so
// tree[0..count) ends up holding the workgroup's totals, summed pairwise. The kernel defines WG (a
// power of two) and P (values per invocation, at most), and every invocation must call
// tree_reduce (it has barriers).
var<workgroup> tree: array<f32, WG * P>;

// The tree's first level (WG / 2), read back from workgroup memory rather than written as the
// constant it is, and the count likewise: with both known, the driver unrolls the loops, and
// lavapipe compiles every barrier of an unrolled loop as a point to suspend and resume the
// invocations at, which cost 4.1 of the 4.8 s its compile of a 16-feature row pass took (0.9 s
// with the loop kept; the sum and its order are the same).
var<workgroup> tree_loop: vec2u;

// Adds up the first `count` values each invocation stored.
fn tree_reduce(lid: u32, count: u32) {
  if (lid == 0u) {
    tree_loop = vec2u(WG / 2u, count);
  }
  let top = workgroupUniformLoad(&tree_loop);
  for (var half = top.x; half > 0u; half >>= 1u) {
    if (lid < half) {
      for (var c = 0u; c < top.y; c++) {
        tree[lid * P + c] += tree[(lid + half) * P + c];
      }
    }
    workgroupBarrier();
  }
}

// Stores an invocation's P running sums, then adds them up.
fn tree_sum(lid: u32, acc: ptr<function, array<f32, P>>) {
  for (var c = 0u; c < P; c++) {
    tree[lid * P + c] = (*acc)[c];
  }
  tree_reduce(lid, P);
}
