// tree: the sum over a workgroup of every invocation's P running sums, in shared memory. Each
// invocation stores its P values; then, level by level, the lower half of the invocations still
// adding takes in the upper half's (log2 WG levels, one barrier each), so tree[0..P) ends up
// holding the workgroup's totals, summed pairwise. The kernel defines WG (a power of two) and P,
// and every invocation must call tree_sum (it has barriers).
var<workgroup> tree: array<f32, WG * P>;

fn tree_sum(lid: u32, acc: ptr<function, array<f32, P>>) {
  for (var c = 0u; c < P; c++) {
    tree[lid * P + c] = (*acc)[c];
  }
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      for (var c = 0u; c < P; c++) {
        tree[lid * P + c] += tree[(lid + half) * P + c];
      }
    }
    workgroupBarrier();
  }
}
