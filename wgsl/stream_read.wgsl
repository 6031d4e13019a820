// stream_read: the adapter's read bandwidth, for the benchmark's roofline. Reads every element of
// `data` once and writes one sum per invocation (so nothing can be optimized away). CONTIGUOUS
// gives each invocation its own run of elements; otherwise a grid stride, as in the row kernel.

override WG: u32 = 64;
override COUNT: u32;
override CONTIGUOUS: bool = false;

@group(0) @binding(0) var<storage, read> data: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let threads = groups.x * WG;
  var begin = gid.x;
  var end = COUNT;
  var step = threads;
  if (CONTIGUOUS) {
    let chunk = (COUNT + threads - 1u) / threads;
    begin = min(gid.x * chunk, COUNT);
    end = min(begin + chunk, COUNT);
    step = 1u;
  }
  var acc = vec4f(0.0);
  for (var i = begin; i < end; i += step) {
    acc += data[i];
  }
  sums[gid.x] = acc.x + acc.y + acc.z + acc.w;
}
