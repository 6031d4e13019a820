// tiny: a whole training run of a small problem in one dispatch, one workgroup per model.
// Each step runs the row passes and the finishing step generated from the graph (`train_step`,
// below: the rows of a batch dealt out to the invocations, sums over rows added as a tree, the
// loss, the gradients and the optimizer's update by one invocation), with barriers in place of
// dispatch boundaries. Each epoch trains BATCHES batches of BATCH rows (position p is row
// permute(p) when SHUFFLE), records the mean of their losses, evaluates the VALID validation rows
// stored after the N training rows (`valid_step`), and stores a snapshot of the parameters when
// one is due. A loss that diverges (control.wgsl's rule) ends the run. control[C_EPOCH] counts the epochs done in
// this run and control[C_RUN] holds its length; one dispatch runs at most MAX_EPOCHS of them and
// the host dispatches again for the rest (a GPU watchdog may stop a dispatch that runs for
// seconds).
//
// Many models at once: workgroup r (row by row of the grid, which wraps at the device's
// workgroups per dimension) trains replicate r of REPLICATES, with its own slice of params and
// state, its own row of hyperparameters (a sweep), and with BOOTSTRAP its own resample, drawn
// from (seed, r): of the rows with replacement (pairs), or, with RESIDUALS, of the residual rows
// stored after the data, one added to each row's target (residuals). Its losses go to
// records[r * RUN + epoch], its validation losses to records[control[C_VALID_AT] + r * RUN +
// epoch], and it keeps its own counters (`counters`), so one diverging replicate stops alone.

{{CONTROL}}

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
// Where the rows' float records start in data1, after the vec4 records (in floats), and where the
// residual rows start, after the float records.
override SCALAR_AT: u32 = 0u;
override RESIDUALS_AT: u32 = 0u;
// The optimizer's second state slot starts after every replicate's first.
override STATE_SLOT: u32 = COUNT * REPLICATES;

// From the graph: parameters per model; sums over rows of the widest pass, and of all passes; a
// row's records (vec4s, floats) and a residual row (floats).
const COUNT: u32 = {{COUNT}}u;
const P: u32 = {{P}}u;
const TOTALS: u32 = {{TOTALS}}u;
const VEC_STRIDE: u32 = {{VEC_STRIDE}}u;
const SCALAR_STRIDE: u32 = {{SCALAR_STRIDE}}u;
const RESIDUAL_STRIDE: u32 = {{RESIDUAL_STRIDE}}u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read_write> records: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: array<u32>;
// The rows of the training set, then of the validation set (then, with RESIDUALS, the N residual rows).
{{DATA}}

{{TREE}}

// Every pass's finished sums, when a step has more than one pass.
var<workgroup> totals: array<f32, TOTALS>;
// (first epoch, epochs to run, first step, diverged), then (seed, epochs before this run, snapshot every k, validation losses at).
var<workgroup> run_info: vec4u;
// The divergence rule's reference (f32 bits), kept by invocation 0.
var<workgroup> reference_bits: u32;
var<workgroup> more_info: vec4u;
var<workgroup> stop: u32;

{{OPTIMIZER}}

// Parameters written by one invocation, read by all in the next step.
fn sync() {
  storageBarrier();
  workgroupBarrier();
}

{{STEPS}}

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
    reference_bits = control[at.reference];
    stop = 0u;
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
      step += 1u;
      loss_sum += train_step(lid, first, min(N, first + BATCH), key, more.x, f32(step));
    }
    let loss = loss_sum / f32(BATCHES); // the epoch's loss: the mean of its batch losses
    if (lid == 0u) {
      let to = replica * control[C_RUN] + epoch;
      if (to < arrayLength(&records)) {
        records[to] = loss;
      }
      let reference = reference_after(loss, bitcast<f32>(reference_bits));
      reference_bits = bitcast<u32>(reference);
      if (diverging(loss, reference)) {
        stop = epoch + 1u;
      }
    }
    if (VALID > 0u) {
      let valid = valid_step(lid);
      let to = more.w + replica * control[C_RUN] + epoch;
      if (lid == 0u && to < arrayLength(&records)) {
        records[to] = valid;
      }
    }
    if (more.z != 0u && (epoch + 1u) % more.z == 0u) {
      for (var i = lid; i < COUNT; i += WG) {
        let to = control[C_PARAMS_AT] + ((epoch + 1u) / more.z - 1u) * COUNT + i;
        if (to < arrayLength(&records)) {
          records[to] = params[base + i];
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
    control[at.reference] = reference_bits;
  }
}
