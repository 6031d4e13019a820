// sgd: param -= lr * grad, in place. The learning rate is read from the device buffer `hyper`,
// so changing it between runs writes 4 bytes and recompiles nothing.

override WG: u32 = 64;
override COUNT: u32;

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read> hyper: array<f32>; // [lr]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let lr = hyper[0];
  let step = groups.x * WG;
  for (var i = gid.x; i < COUNT; i += step) {
    param[i] = param[i] - lr * grad[i];
  }
}
