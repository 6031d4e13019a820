// linear_mse_tiny: a whole training run of a small regression in one dispatch of one workgroup.
// Each epoch does what linear_mse_partials and linear_mse_update do for large problems (rows
// dealt out to invocations, residual sums, a tree, loss record, optimizer update), with barriers
// in place of dispatch boundaries, and keeps a copy of theta in shared memory between epochs.
// control[0] counts the epochs done in this run and control[1] holds the run's length, so a new
// run length recompiles nothing; one dispatch runs at most MAX_EPOCHS of them and the host
// dispatches again for the rest (a GPU watchdog may stop a dispatch that runs for seconds).

const D: u32 = {{D}}u;
const K: u32 = {{K}}u;
const W_T: u32 = {{W_T}}u;
const W_J: u32 = {{W_J}}u;
const P: u32 = K * D + K + 1u;
const COUNT: u32 = P - 1u;
const HYPER: u32 = 4u;

override WG: u32 = 64;
override ROWS: u32;
override INV_N: f32;
override MAX_EPOCHS: u32 = 5000u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> history: array<f32>;
@group(0) @binding(5) var<storage, read_write> control: array<u32>;

var<workgroup> tree: array<f32, WG * P>;
var<workgroup> theta: array<f32, COUNT>;
var<workgroup> first_epoch: u32;
var<workgroup> epochs: u32;
var<workgroup> first_step: u32;

fn hyper(k: u32) -> f32 {
  return bitcast<f32>(control[HYPER + k]);
}

{{OPTIMIZER}}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    first_epoch = control[0];
    epochs = min(MAX_EPOCHS, control[1] - min(control[0], control[1]));
    first_step = control[2];
  }
  for (var i = lid; i < COUNT; i += WG) {
    theta[i] = params[i];
  }
  let run = workgroupUniformLoad(&epochs);

  for (var e = 0u; e < run; e++) {
    // Zeroed by hand: a declaration inside a loop was seen to keep the last epoch's sums (Dawn on lavapipe).
    var acc: array<f32, P>;
    for (var c = 0u; c < P; c++) {
      acc[c] = 0.0;
    }
    for (var r = lid; r < ROWS; r += WG) {
      for (var t = 0u; t < K; t++) {
        var pred = theta[K * D + t];
        for (var j = 0u; j < D; j++) {
          pred += theta[t * W_T + j * W_J] * x[r * D + j];
        }
        let err = pred - y[r * K + t];
        for (var j = 0u; j < D; j++) {
          acc[t * W_T + j * W_J] += err * x[r * D + j];
        }
        acc[K * D + t] += err;
        acc[P - 1u] += err * err;
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
    if (lid == 0u && first_epoch + e < arrayLength(&history)) {
      history[first_epoch + e] = tree[P - 1u] * INV_N;
    }
    let t = f32(first_step + e + 1u);
    for (var i = lid; i < COUNT; i += WG) {
      optimizer_step(i, 2.0 * INV_N * tree[i], t);
      theta[i] = params[i];
    }
    workgroupBarrier();
  }

  if (lid == 0u) {
    control[0] = first_epoch + run;
    control[2] = first_step + run;
  }
}
