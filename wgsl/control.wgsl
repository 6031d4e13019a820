// control: the layout of the `control` buffer that every training kernel shares (u32 words; the
// hyperparameters are f32 bits), and helpers. The words, the Counters struct and `counters` come
// from wgsl/control.ts's table, the one place TypeScript reads them from too.
{{WORDS}}

// Many models at once: REPLICATES copies of the parameters and optimizer state train together.
// `replica` is the one an invocation works on; each has its own row of hyperparameters,
// HYPER_STRIDE words apart, and its own counters (see `counters`).
var<private> replica: u32 = 0u;
override HYPER_STRIDE: u32 = 0u;
override REPLICATES: u32 = 1u;
// Where the replicates' counters start in control (after every replicate's hyperparameters).
override REPLICA_AT: u32 = 0u;

fn hyper(k: u32) -> f32 {
  return bitcast<f32>(control[HYPER + replica * HYPER_STRIDE + k]);
}

// Neither infinite nor NaN, read from the exponent bits (a NaN compare could be optimized away).
fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// Divergence: the one rule every kernel that records an epoch's loss applies (wgsl/control.ts's
// `diverging` is its twin, for the CPU backend). A loss diverges when it is not finite, or when it
// has grown past RUNAWAY times `reference`: the loss of the first epoch since the data or the
// parameters were last written, or a floor the host gives, whichever is larger. The host writes
// minus the floor into the reference word then (0 when it has none); `reference_after` sets it.
// For a squared-error loss the floor is the mean square of the targets (the loss of predicting 0
// for every row) over RUNAWAY, so the rule never fires below that loss. Why this reference:
// - the first loss is where the fit started, so the rule asks "did the loss grow by six orders of
//   magnitude from its start", in the loss's own units. A learning rate just past the stable limit
//   grows the loss geometrically (44 to 3.2e9 in 30 epochs, x1.8 an epoch) and is caught within
//   a few tens of epochs, long before float32 overflows;
// - a healthy fit never comes near it: with a stable rate, full-batch descent on a squared error
//   never raises the loss, momentum and minibatch noise raise it by small factors, Adam's steps
//   are bounded by the rate, and weight decay raises it at most to the loss of the all-zero model;
// - a loss falling to ~0 (an exact fit, float32 rounding noise around 1e-14 of its start) cannot
//   trigger it, because the reference is the start, not the smallest loss seen;
// - a fit that starts at the exact solution of noise-free data starts at rounding noise (6e-14):
//   Adam's first steps, about the rate long whatever the gradient, then raise the loss a billion
//   times and settle; the floor keeps that from reading as a runaway.
const RUNAWAY: f32 = 1e6;

fn diverging(loss: f32, reference: f32) -> bool {
  return !finite(loss) || (reference > 0.0 && loss > RUNAWAY * reference);
}

// The reference after an epoch whose loss was `loss`: kept once set (positive); before that, the
// word holds minus the floor, and the reference becomes the larger of the floor and this loss.
fn reference_after(loss: f32, reference: f32) -> f32 {
  return select(reference, max(loss, -reference), reference <= 0.0 && finite(loss));
}

// A 32-bit integer hash (lowbias32): the round function of the shuffle.
fn mix(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// Position i of a random permutation of [0, n): a 4-round Feistel network on 2 * half bits
// (2^(2 half) >= n), walked until it lands below n. Every position is computed on its own, so a
// shuffle needs no stored index list; runtime/shuffle.ts computes the same numbers on the CPU.
fn permute(i: u32, n: u32, key: u32, half: u32) -> u32 {
  let mask = (1u << half) - 1u;
  var x = i;
  loop {
    var l = x >> half;
    var r = x & mask;
    for (var round = 0u; round < 4u; round++) {
      let f = mix(r ^ key ^ (round * 0x9e3779b9u)) & mask;
      let next = l ^ f;
      l = r;
      r = next;
    }
    x = (l << half) | r;
    if (x < n) {
      break;
    }
  }
  return x;
}

// The shuffle key of an epoch.
fn epoch_key(seed: u32, epoch: u32) -> u32 {
  return mix(seed ^ mix(epoch + 0x68e31da4u));
}

// A bootstrap: the row of [0, n) that replicate `rep`'s resample puts at row p, a uniform draw
// keyed by (seed, rep, p); runtime/shuffle.ts (resampleRow) computes the same numbers.
fn resample(seed: u32, rep: u32, p: u32, n: u32) -> u32 {
  return mix(mix(seed ^ 0xb5297a4du) ^ mix(rep * 0x9e3779b9u + p)) % n;
}

// The row that position p of a batch trains on, and the row whose residual it draws (a residual
// bootstrap): position p of this epoch's permutation when shuffled; then, in a bootstrap, the
// replicate's resample of it, which a pairs bootstrap trains on instead.
fn pick_row(p: u32, n: u32, half: u32, shuffled: bool, key: u32, boot: bool, residuals: bool, seed: u32) -> vec2u {
  var row = p;
  if (shuffled) {
    row = permute(p, n, key, half);
  }
  var drawn = row;
  if (boot) {
    drawn = resample(seed, replica, row, n);
    if (!residuals) {
      row = drawn;
    }
  }
  return vec2u(row, drawn);
}
