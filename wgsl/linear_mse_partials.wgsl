// linear_mse_partials: the first of the two fused kernels of a regression step.
// For the rows of the current batch that lie in this chunk of the data (ROWS rows from row
// CHUNK_START, each [x | y]: D features then K targets), and parameters theta = [W, b] (W read
// as theta[t * W_T + j * W_J]; b after W), each invocation walks its share of the rows computing
// prediction, residual e = x·wₜ + bₜ - y, and accumulating, in registers,
//   e·xⱼ for each (t, j)   -> the gradient of W (in W's own layout), up to 2 / (rows K)
//   e     for each t       -> the gradient of b
//   e²                     -> the loss, up to 1 / (rows K)
// Then the workgroup adds its invocations' P = K D + K + 1 sums as a tree in shared memory and
// writes them as row GROUP_BASE + workgroup of `partials`; linear_mse_update finishes the sums.
//
// Batches: batch control[C_BATCH] covers positions [b BATCH, (b + 1) BATCH) of the N rows; with
// SHUFFLE, position p is row permute(p) of this epoch's permutation, drawn here from the seed and
// the epoch. WHOLE takes all N rows (the validation set). Full-batch training is BATCH = N.
//
// Many models at once: the workgroups of row y of the dispatch work for replicate y of
// REPLICATES, with its slice of theta, its counters, its REPLICA_GROUPS rows of partials and, with
// BOOTSTRAP, its own resample drawn from (seed, y), as linear_mse_tiny draws it.
//
// Row layout: CONTIGUOUS gives each invocation its own run of positions (fastest on CPU adapters
// such as lavapipe, with few workgroups); otherwise a grid stride (GPUs). The planner picks.
// Lines that compute a graph node carry a `// op:` tag naming it (explain and the web page show
// which ops a kernel fused).

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
// With replicates: the rows of partials each one writes, and its resample.
override REPLICA_GROUPS: u32 = 0u;
override BOOTSTRAP: bool = false;
override RESIDUALS: bool = false;
// Where the residuals start in data: N rows of K after the N rows of [x | y].
override RESIDUALS_AT: u32 = 0u;

const WIDTH: u32 = D + K;
const COUNT: u32 = P - 1u;

@group(0) @binding(0) var<storage, read> data: array<f32>;
@group(0) @binding(1) var<storage, read> theta: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<storage, read> control: array<u32>;

{{TREE}}

// (diverged, first position, end position, shuffle key), read once by invocation 0.
var<workgroup> batch: vec4u;
var<workgroup> seed: u32;

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  replica = wid.y;
  let at = counters(replica);
  if (lid == 0u) {
    let b = select(control[at.batch], 0u, WHOLE);
    let begin = select(b * BATCH, 0u, WHOLE);
    let end = select(min(N, begin + BATCH), N, WHOLE);
    batch = vec4u(select(control[at.diverged], 0u, WHOLE), begin, end, epoch_key(control[C_SEED], control[at.total]));
    seed = control[C_SEED];
  }
  let info = workgroupUniformLoad(&batch);
  if (info.x != 0u) {
    return;
  }
  let shuffled = SHUFFLE && !WHOLE;
  let boot = BOOTSTRAP && !WHOLE;
  // Without a shuffle or a pairs resample, only the positions inside this chunk; with either, every
  // position of the batch, skipping the rows that lie in other chunks.
  let moved = shuffled || (boot && !RESIDUALS);
  var first = info.y;
  var last = info.z;
  if (!moved) {
    first = max(first, CHUNK_START);
    last = max(first, min(last, CHUNK_START + ROWS));
  }

  let base = replica * COUNT;
  var w: array<f32, K * D>;
  var b: array<f32, K>;
  for (var t = 0u; t < K; t++) {
    for (var j = 0u; j < D; j++) {
      w[t * D + j] = theta[base + t * W_T + j * W_J]; // op: transpose (Wᵀ is W read with swapped strides)
    }
    b[t] = theta[base + K * D + t];
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
    }
    // The resampled row: trained on in a pairs bootstrap; its residual is added in a residual one.
    var drawn = row;
    if (boot) {
      drawn = resample(seed, replica, row, N);
      if (!RESIDUALS) {
        row = drawn;
      }
    }
    // (Tested only when rows move: on lavapipe the test alone cost a third of the kernel's time.)
    if (moved && (row < CHUNK_START || row >= CHUNK_START + ROWS)) {
      continue;
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
      var y = data[r + D + t];
      if (boot && RESIDUALS) {
        y += data[RESIDUALS_AT + drawn * K + t];
      }
      let e = pred - y; // op: sub (backward: the residual)
      for (var j = 0u; j < D; j++) {
        acc[t * W_T + j * W_J] += e * xr[j]; // op: matmul, transpose (backward: dW = eᵀ X)
      }
      acc[K * D + t] += e; // op: sum (backward: db = Σ e)
      acc[P - 1u] += e * e; // op: squaredError, mean (the loss)
    }
  }

  tree_sum(lid, &acc);
  for (var c = lid; c < P; c += WG) {
    partials[(replica * REPLICA_GROUPS + GROUP_BASE + wid.x) * P + c] = tree[c];
  }
}
