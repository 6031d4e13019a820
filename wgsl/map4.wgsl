// map4: map.wgsl for an elementwise op over a contiguous operand whose element count is a multiple
// of 4: each invocation applies the op to a vec4 (component by component), so a lane reads and
// writes one vec4 where map.wgsl reads four scalars (on lavapipe every read costs about the same
// whatever its width).

override WG: u32 = 64;
override COUNT4: u32;

@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;

fn apply(x: f32) -> f32 {
  return {{APPLY}};
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let step = groups.x * WG;
  for (var i = gid.x; i < COUNT4; i += step) {
    let x = a[i];
    out[i] = vec4f(apply(x.x), apply(x.y), apply(x.z), apply(x.w));
  }
}
