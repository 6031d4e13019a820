// tree: the sum over a workgroup of every invocation's running sums, in shared memory. Each
// invocation stores its values at tree[lid * P ..]; then, level by level, the lower half of the
// invocations still adding takes in the upper half's (log2 WG levels, one barrier each), so
// tree[0..count) ends up holding the workgroup's totals, summed pairwise. The kernel defines WG (a
// power of two) and P (values per invocation, at most), and every invocation must call
// tree_reduce (it has barriers).
var<workgroup> tree: array<f32, WG * P>;

// Adds up the first `count` values each invocation stored.
fn tree_reduce(lid: u32, count: u32) {
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      for (var c = 0u; c < count; c++) {
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
