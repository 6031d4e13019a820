// update: applies the optimizer's rule to every element of one parameter, for the one-kernel-per-
// node plan. The rule spliced in below (from wgsl/optim/) is the same text the fused kernels use.
// control[2] is the step count, already advanced by `record` for this epoch.

const HYPER: u32 = 4u;

override WG: u32 = 64;
override COUNT: u32;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;
@group(0) @binding(3) var<storage, read> control: array<u32>;

fn hyper(k: u32) -> f32 {
  return bitcast<f32>(control[HYPER + k]);
}

{{OPTIMIZER}}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let t = f32(control[2]);
  let step = groups.x * WG;
  for (var i = gid.x; i < COUNT; i += step) {
    optimizer_step(i, grads[i], t);
  }
}
