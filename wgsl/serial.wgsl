// serial: a whole training run of a small problem in one dispatch, one invocation per model.
// The same generated step as tiny.wgsl (`train_step`: the row passes and the finishing step),
// but one invocation walks every row of a batch with the parameters and the sums in registers,
// so there is no tree and no barrier at all. On a CPU adapter a barrier costs a switch between
// groups of lanes; for a handful of rows that is most of a step. Everything else (batches,
// shuffle, bootstrap draws, validation, snapshots, replicates, counters) is as in tiny.wgsl.
//
// One invocation runs every loop iteration of the run, so a driver that stops shader loops after a
// budget of iterations (Mesa 22's llvmpipe) would cut this kernel short first: the step counts the
// rows it trained (`trained_rows`), and an epoch that trained fewer than its rows ends the run
// unmarked, which the host reports as a run its driver cut short, not as a result.

{{CONTROL}}

override N: u32;
override VALID: u32 = 0u;
override BATCH: u32;
override BATCHES: u32;
override SHUFFLE: bool = false;
override HALF: u32 = 1u;
override MAX_EPOCHS: u32 = 5000u;
override BOOTSTRAP: bool = false;
override RESIDUALS: bool = false;
override SCALAR_AT: u32 = 0u;
override RESIDUALS_AT: u32 = 0u;
override STATE_SLOT: u32 = COUNT * REPLICATES;

const COUNT: u32 = {{COUNT}}u;
const VEC_STRIDE: u32 = {{VEC_STRIDE}}u;
const SCALAR_STRIDE: u32 = {{SCALAR_STRIDE}}u;
const RESIDUAL_STRIDE: u32 = {{RESIDUAL_STRIDE}}u;

@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read_write> records: array<f32>;
@group(0) @binding(3) var<storage, read_write> control: array<u32>;
// The rows of the training set, then of the validation set (then, with RESIDUALS, the N residual rows).
{{DATA}}

{{OPTIMIZER}}

var<private> trained_rows: u32;

{{STEPS}}

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = wid.y * groups.x + wid.x;
  if (r >= REPLICATES) {
    return;
  }
  replica = r;
  let base = replica * COUNT;
  let at = counters(replica);
  let first_epoch = control[at.epoch];
  let epochs = min(MAX_EPOCHS, control[C_RUN] - min(first_epoch, control[C_RUN]));
  let seed = control[C_SEED];
  let before = control[at.total];
  let every = control[C_PARAMS_EVERY];
  let valid_at = control[C_VALID_AT];
  if (control[at.diverged] != 0u) {
    return;
  }

  var stop = 0u;
  var reference = bitcast<f32>(control[at.reference]);
  var epochs_done = 0u;
  var step = control[at.step];
  for (var e = 0u; e < epochs; e++) {
    let epoch = first_epoch + e;
    let key = epoch_key(seed, before + e);
    var loss_sum = 0.0;
    trained_rows = 0u;
    for (var b = 0u; b < BATCHES; b++) {
      let first = b * BATCH;
      step += 1u;
      loss_sum += train_step(0u, first, min(N, first + BATCH), key, seed, f32(step));
    }
    if (trained_rows != min(N, BATCHES * BATCH)) {
      break;
    }
    let loss = loss_sum / f32(BATCHES);
    let to = replica * control[C_RUN] + epoch;
    if (to < arrayLength(&records)) {
      records[to] = loss;
    }
    if (VALID > 0u) {
      let valid_to = valid_at + replica * control[C_RUN] + epoch;
      if (valid_to < arrayLength(&records)) {
        records[valid_to] = valid_step(0u);
      }
    }
    if (every != 0u && (epoch + 1u) % every == 0u) {
      for (var i = 0u; i < COUNT; i++) {
        let snap = control[C_PARAMS_AT] + ((epoch + 1u) / every - 1u) * COUNT + i;
        if (snap < arrayLength(&records)) {
          records[snap] = params[base + i];
        }
      }
    }
    epochs_done = e + 1u;
    reference = reference_after(loss, reference);
    if (diverging(loss, reference)) {
      stop = epoch + 1u;
      break;
    }
  }

  control[at.epoch] = first_epoch + epochs_done;
  control[at.step] = step;
  control[at.total] = before + epochs_done;
  control[at.diverged] = stop;
  control[at.reference] = bitcast<u32>(reference);
}
