// update: applies the optimizer's rule to every element of one parameter, for the one-kernel-per-
// node plan (and the split fused plan). The rule spliced in below (from wgsl/optim/) is the same
// text the fused kernels use. control[C_STEP] was already advanced for this step; after a loss
// that diverged, nothing more is updated.

{{CONTROL}}

override WG: u32 = 64;
override COUNT: u32;
// Where the optimizer's second state slot starts (state holds slots of COUNT values).
override STATE_SLOT: u32 = COUNT;
// Where the gradients start in `grads` (after the partials, when finish.wgsl stored them on a device with 4 storage buffers).
override GRADS_AT: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;
@group(0) @binding(3) var<storage, read> control: array<u32>;

{{OPTIMIZER}}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  if (control[C_DIVERGED] != 0u) {
    return;
  }
  let t = f32(control[C_STEP]);
  let step = groups.x * WG;
  for (var i = gid.x; i < COUNT; i += step) {
    optimizer_step(i, grads[GRADS_AT + i], t);
  }
}
