// linear_mse_tiny: a whole training run of a small regression in one dispatch of one workgroup.
// Each step does what linear_mse_partials and linear_mse_update do for large problems (rows
// dealt out to invocations, residual sums, a tree, the optimizer's update), with barriers in place
// of dispatch boundaries, and keeps a copy of theta in shared memory between steps. Each epoch
// trains BATCHES batches of BATCH rows (position p is row permute(p) when SHUFFLE), records the
// mean of their losses, evaluates the VALID validation rows stored after the N training rows, and
// stores a snapshot of theta when one is due. A loss that diverges (control.wgsl's rule) ends the run.
// control[C_EPOCH] counts the epochs done in this run and control[C_RUN] holds its length; one
// dispatch runs at most MAX_EPOCHS of them and the host dispatches again for the rest (a GPU
// watchdog may stop a dispatch that runs for seconds).
//
// Many models at once: workgroup r (row by row of the grid, which wraps at the device's
// workgroups per dimension) trains replicate r of REPLICATES, with its own slice of params and
// state, its own row of hyperparameters (a learning-rate sweep), and with BOOTSTRAP its own
// resample, drawn here from (seed, r): of the rows with replacement (a pairs bootstrap), or, with
// RESIDUALS, of the residuals stored after the rows, one added to each row's target (a residual
// bootstrap: X stays, Y holds the fitted values). Its losses go to records[r * RUN + epoch], its
// validation losses (the same VALID rows for every replicate) to
// records[control[C_VALID_AT] + r * RUN + epoch]. Each replicate keeps its own counters in control
// (`counters`: epochs done this run, steps, epochs in all, and a divergence mark, so one diverging
// replicate stops alone), since workgroups may run one after another and must not see each
// other's updates.
// With one replicate this is the single model above.

{{CONTROL}}

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const W_T: u32 = {{W_T}}u;
const W_J: u32 = {{W_J}}u;
const P: u32 = K * D + K + 1u;
const COUNT: u32 = P - 1u;

override WG: u32 = 64;
override N: u32;
override VALID: u32 = 0u;
override BATCH: u32;
override BATCHES: u32;
override SHUFFLE: bool = false;
override HALF: u32 = 1u;
override MAX_EPOCHS: u32 = 5000u;
override BOOTSTRAP: bool = false;
override RESIDUALS: bool = false;
// Where the residuals start in data: N rows of K after the N + VALID rows of [x | y].
override RESIDUALS_AT: u32 = 0u;
// The optimizer's second state slot starts after every replicate's first.
override STATE_SLOT: u32 = COUNT * REPLICATES;

const WIDTH: u32 = D + K;

// Rows of [x | y]: the N training rows, then the VALID validation rows (then, with RESIDUALS, N x K residuals).
@group(0) @binding(0) var<storage, read> data: array<f32>;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;
@group(0) @binding(3) var<storage, read_write> records: array<f32>;
@group(0) @binding(4) var<storage, read_write> control: array<u32>;

{{TREE}}

var<workgroup> theta: array<f32, COUNT>;
// (first epoch, epochs to run, first step, diverged), then (seed, epochs before this run, snapshot every k, -).
var<workgroup> run_info: vec4u;
var<workgroup> more_info: vec4u;
var<workgroup> stop: u32;

{{OPTIMIZER}}

// Adds the residual sums of rows [first, last) of the positions (permuted when `key` is used,
// then, when `boot`, mapped through the replicate's resample, or given a resampled residual) into acc.
fn accumulate(lid: u32, first: u32, last: u32, shuffled: bool, key: u32, boot: bool, seed: u32, acc: ptr<function, array<f32, P>>) {
  for (var p = first + lid; p < last; p += WG) {
    var row = p;
    if (shuffled) {
      row = permute(p, N, key, HALF);
    }
    // The resampled row: trained on in a pairs bootstrap; its residual is added in a residual one.
    var drawn = row;
    if (boot) {
      drawn = resample(seed, replica, row, N);
      if (!RESIDUALS) {
        row = drawn;
      }
    }
    let r = row * WIDTH;
    for (var t = 0u; t < K; t++) {
      var pred = theta[K * D + t]; // op: add (+ b)
      for (var j = 0u; j < D; j++) {
        pred += theta[t * W_T + j * W_J] * data[r + j]; // op: transpose, matmul (X Wᵀ)
      }
      var y = data[r + D + t];
      if (boot && RESIDUALS) {
        y += data[RESIDUALS_AT + drawn * K + t];
      }
      let err = pred - y; // op: sub (backward: the residual)
      for (var j = 0u; j < D; j++) {
        (*acc)[t * W_T + j * W_J] += err * data[r + j]; // op: matmul, transpose (backward: dW = eᵀ X)
      }
      (*acc)[K * D + t] += err; // op: sum (backward: db = Σ e)
      (*acc)[P - 1u] += err * err; // op: squaredError, mean (the loss)
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // Past the device's workgroups per dimension, replicates continue on the grid's next rows.
  let r = wid.y * groups.x + wid.x;
  if (r >= REPLICATES) {
    return;
  }
  replica = r;
  let base = replica * COUNT;
  // The counters this workgroup reads and advances: the shared ones for one model, its own for many.
  let at = counters(replica);
  if (lid == 0u) {
    let done = min(control[at.epoch], control[C_RUN]);
    run_info = vec4u(control[at.epoch], min(MAX_EPOCHS, control[C_RUN] - done), control[at.step], control[at.diverged]);
    more_info = vec4u(control[C_SEED], control[at.total], control[C_PARAMS_EVERY], control[C_VALID_AT]);
    stop = 0u;
  }
  for (var i = lid; i < COUNT; i += WG) {
    theta[i] = params[base + i];
  }
  let info = workgroupUniformLoad(&run_info);
  let more = workgroupUniformLoad(&more_info);
  if (info.w != 0u) {
    return;
  }

  var epochs_done = 0u;
  var step = info.z;
  for (var e = 0u; e < info.y; e++) {
    let epoch = info.x + e;
    let key = epoch_key(more.x, more.y + e);
    var loss_sum = 0.0;
    for (var b = 0u; b < BATCHES; b++) {
      let first = b * BATCH;
      let last = min(N, first + BATCH);
      // Zeroed by hand: a declaration inside a loop was seen to keep the last iteration's sums (Dawn on lavapipe).
      var acc: array<f32, P>;
      for (var c = 0u; c < P; c++) {
        acc[c] = 0.0;
      }
      accumulate(lid, first, last, SHUFFLE, key, BOOTSTRAP, more.x, &acc);
      tree_sum(lid, &acc);
      let inv = 1.0 / (f32(last - first) * f32(K));
      loss_sum += tree[P - 1u] * inv;
      step += 1u;
      for (var i = lid; i < COUNT; i += WG) {
        optimizer_step(base + i, 2.0 * inv * tree[i], f32(step)); // op: constant, scale, broadcastTo, mul (backward: 2 / (m K) from the mean)
        theta[i] = params[base + i];
      }
      workgroupBarrier();
    }
    let loss = loss_sum / f32(BATCHES); // op: mean (of the batch losses)
    if (lid == 0u) {
      let at = replica * control[C_RUN] + epoch;
      if (at < arrayLength(&records)) {
        records[at] = loss;
      }
      let reference = reference_after(loss, bitcast<f32>(control[counters(replica).reference]));
      control[counters(replica).reference] = bitcast<u32>(reference);
      if (diverging(loss, reference)) {
        stop = epoch + 1u;
      }
    }
    if (VALID > 0u) {
      var acc: array<f32, P>;
      for (var c = 0u; c < P; c++) {
        acc[c] = 0.0;
      }
      accumulate(lid, N, N + VALID, false, 0u, false, 0u, &acc);
      tree_sum(lid, &acc);
      let at = more.w + replica * control[C_RUN] + epoch;
      if (lid == 0u && at < arrayLength(&records)) {
        records[at] = tree[P - 1u] / (f32(VALID) * f32(K));
      }
    }
    if (more.z != 0u && (epoch + 1u) % more.z == 0u) {
      for (var i = lid; i < COUNT; i += WG) {
        let at = control[C_PARAMS_AT] + ((epoch + 1u) / more.z - 1u) * COUNT + i;
        if (at < arrayLength(&records)) {
          records[at] = theta[i];
        }
      }
    }
    epochs_done = e + 1u;
    if (workgroupUniformLoad(&stop) != 0u) {
      break;
    }
  }

  if (lid == 0u) {
    control[at.epoch] = info.x + epochs_done;
    control[at.step] = step;
    control[at.total] = more.y + epochs_done;
    control[at.diverged] = stop;
  }
}
