// loop_probe: one invocation counts to io[0] in a loop and stores the count in io[1]. The host
// compares: a driver that stops long loops (llvmpipe in Mesa 22 ends every loop of an invocation
// once it has taken 65535 iterations in all) stores less, and fusegrad refuses that adapter, since
// its training kernels would stop early with wrong numbers. The count is read from the buffer so
// that no compiler can fold the loop away.

@group(0) @binding(0) var<storage, read_write> io: array<u32>;

@compute @workgroup_size(1)
fn main() {
  let n = io[0];
  var count = 0u;
  for (var i = 0u; i < n; i++) {
    count += 1u;
  }
  io[1] = count;
}
