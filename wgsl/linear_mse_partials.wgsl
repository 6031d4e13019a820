// linear_mse_partials: the first of the two fused kernels of a regression step.
// For the rows of the current batch that lie in this chunk of the data (ROWS rows from row
// CHUNK_START, each [x | y]: D features then K targets), and parameters theta = [W, b] (W read as theta[t * W_T + j * W_J]; b after W),
// each invocation walks its share of the rows computing prediction, residual
// e = x·wₜ + bₜ - y, and accumulating, in registers,
//   e·xⱼ for each (t, j)   -> the gradient of W (in W's own layout), up to 2 / (rows K)
//   e     for each t       -> the gradient of b
//   e²                     -> the loss, up to 1 / (rows K)
// Then the workgroup adds its invocations' P = K D + K + 1 sums as a tree in shared memory and
// writes them as row GROUP_BASE + workgroup of `partials`; linear_mse_update finishes the sums.
//
// Batches: batch control[C_BATCH] covers positions [b BATCH, (b + 1) BATCH) of the N rows; with
// SHUFFLE, position p is row permute(p) of this epoch's permutation, drawn here from the seed and
// the epoch. WHOLE takes all N rows (the validation set). Full-batch training is BATCH = N.
// Lines that compute a graph node carry a `// op:` tag naming it (explain and the web page show
// which ops a kernel fused). Row layout: CONTIGUOUS gives each invocation its own run of positions (fastest on CPU adapters
// such as lavapipe, with few workgroups); otherwise a grid stride (GPUs). The planner picks.

{{CONTROL}}

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const W_T: u32 = {{W_T}}u;
const W_J: u32 = {{W_J}}u;
const P: u32 = K * D + K + 1u;

override WG: u32 = 64;
override ROWS: u32;
override CHUNK_START: u32 = 0u;
override N: u32;
override BATCH: u32;
override GROUP_BASE: u32 = 0u;
override CONTIGUOUS: bool = false;
override SHUFFLE: bool = false;
override HALF: u32 = 1u;
override WHOLE: bool = false;

const WIDTH: u32 = D + K;

@group(0) @binding(0) var<storage, read> data: array<f32>;
@group(0) @binding(1) var<storage, read> theta: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read> control: array<u32>;

{{TREE}}

// (diverged, first position, end position, shuffle key), read once by invocation 0.
var<workgroup> batch: vec4u;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  if (lid == 0u) {
    let b = select(control[C_BATCH], 0u, WHOLE);
    let begin = select(b * BATCH, 0u, WHOLE);
    let end = select(min(N, begin + BATCH), N, WHOLE);
    batch = vec4u(select(control[C_DIVERGED], 0u, WHOLE), begin, end, epoch_key(control[C_SEED], control[C_EPOCHS_TOTAL]));
  }
  let info = workgroupUniformLoad(&batch);
  if (info.x != 0u) {
    return;
  }
  let shuffled = SHUFFLE && !WHOLE;
  // Without a shuffle, only the positions inside this chunk; with one, every position of the batch
  // (its row may lie in any chunk).
  var first = info.y;
  var last = info.z;
  if (!shuffled) {
    first = max(first, CHUNK_START);
    last = max(first, min(last, CHUNK_START + ROWS));
  }

  var w: array<f32, K * D>;
  var b: array<f32, K>;
  for (var t = 0u; t < K; t++) {
    for (var j = 0u; j < D; j++) {
      w[t * D + j] = theta[t * W_T + j * W_J]; // op: transpose (Wᵀ is W read with swapped strides)
    }
    b[t] = theta[K * D + t];
  }

  var acc: array<f32, P>;
  let threads = groups.x * WG;
  let me = wid.x * WG + lid;
  let count = last - first;
  var begin = me;
  var end = count;
  var step = threads;
  if (CONTIGUOUS) {
    let chunk = (count + threads - 1u) / threads;
    begin = min(me * chunk, count);
    end = min(begin + chunk, count);
    step = 1u;
  }
  for (var q = begin; q < end; q += step) {
    var row = first + q;
    if (shuffled) {
      row = permute(row, N, info.w, HALF);
      if (row < CHUNK_START || row >= CHUNK_START + ROWS) {
        continue;
      }
    }
    let r = (row - CHUNK_START) * WIDTH;
    var xr: array<f32, D>;
    for (var j = 0u; j < D; j++) {
      xr[j] = data[r + j];
    }
    for (var t = 0u; t < K; t++) {
      var pred = b[t]; // op: add (+ b)
      for (var j = 0u; j < D; j++) {
        pred += w[t * D + j] * xr[j]; // op: matmul (X Wᵀ)
      }
      let e = pred - data[r + D + t]; // op: sub (backward: the residual)
      for (var j = 0u; j < D; j++) {
        acc[t * W_T + j * W_J] += e * xr[j]; // op: matmul, transpose (backward: dW = eᵀ X)
      }
      acc[K * D + t] += e; // op: sum (backward: db = Σ e)
      acc[P - 1u] += e * e; // op: squaredError, mean (the loss)
    }
  }

  tree_sum(lid, &acc);
  for (var c = lid; c < P; c += WG) {
    partials[(GROUP_BASE + wid.x) * P + c] = tree[c];
  }
}
