// linear_mse_partials: the first of the two fused kernels of a regression epoch.
// For the rows of one chunk of X (rows x D) and Y (rows x K) and parameters theta = [W, b]
// (W is K x D, read as theta[t * W_T + j * W_J]; b follows W), each invocation walks its rows
// computing prediction, residual e = x·wₜ + bₜ - y, and accumulating, in registers,
//   e·xⱼ for each (t, j)   -> the gradient of W (in W's own layout), up to the factor 2 / (n K)
//   e     for each t       -> the gradient of b
//   e²                     -> the loss, up to 1 / (n K)
// Then the workgroup adds its invocations' P = K D + K + 1 sums as a tree in shared memory and
// writes them as row GROUP_BASE + workgroup of `partials`. linear_mse_update finishes the sums.
//
// Row layout: CONTIGUOUS gives each invocation its own run of consecutive rows (fastest on CPU
// adapters such as lavapipe, with few workgroups); otherwise rows are dealt out with a grid stride
// (coalesced, for GPUs with many workgroups). The planner picks per adapter.

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const W_T: u32 = {{W_T}}u;
const W_J: u32 = {{W_J}}u;
const P: u32 = K * D + K + 1u;

override WG: u32 = 64;
override ROWS: u32;
override GROUP_BASE: u32 = 0u;
override CONTIGUOUS: bool = false;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> theta: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

var<workgroup> tree: array<f32, WG * P>;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  var w: array<f32, K * D>;
  var b: array<f32, K>;
  for (var t = 0u; t < K; t++) {
    for (var j = 0u; j < D; j++) {
      w[t * D + j] = theta[t * W_T + j * W_J];
    }
    b[t] = theta[K * D + t];
  }

  var acc: array<f32, P>;
  let threads = groups.x * WG;
  let me = wid.x * WG + lid;
  var begin = me;
  var end = ROWS;
  var step = threads;
  if (CONTIGUOUS) {
    let chunk = (ROWS + threads - 1u) / threads;
    begin = min(me * chunk, ROWS);
    end = min(begin + chunk, ROWS);
    step = 1u;
  }
  for (var r = begin; r < end; r += step) {
    var xr: array<f32, D>;
    for (var j = 0u; j < D; j++) {
      xr[j] = x[r * D + j];
    }
    for (var t = 0u; t < K; t++) {
      var pred = b[t];
      for (var j = 0u; j < D; j++) {
        pred += w[t * D + j] * xr[j];
      }
      let e = pred - y[r * K + t];
      for (var j = 0u; j < D; j++) {
        acc[t * W_T + j * W_J] += e * xr[j];
      }
      acc[K * D + t] += e;
      acc[P - 1u] += e * e;
    }
  }

  for (var c = 0u; c < P; c++) {
    tree[lid * P + c] = acc[c];
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
  for (var c = lid; c < P; c += WG) {
    partials[(GROUP_BASE + wid.x) * P + c] = tree[c];
  }
}
