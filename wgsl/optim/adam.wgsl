// Adam and AdamW as torch.optim.Adam / AdamW: hyper = [lr, beta1, beta2, eps, weight_decay,
// decoupled (0: Adam adds weight_decay * p to the gradient; 1: AdamW scales p by 1 - lr * wd)].
// state[i] is the first moment m, state[STATE_SLOT + i] the second moment v. The bias corrections
// 1 - beta^t use pow on the step count t.
fn optimizer_step(i: u32, grad: f32, t: f32) {
  let lr = hyper(0u);
  let beta1 = hyper(1u);
  let beta2 = hyper(2u);
  let eps = hyper(3u);
  let weight_decay = hyper(4u);
  var g = grad;
  var p = params[i];
  if (hyper(5u) != 0.0) {
    p = p * (1.0 - lr * weight_decay);
  } else {
    g = g + weight_decay * p;
  }
  let m = beta1 * state[i] + (1.0 - beta1) * g;
  let v = beta2 * state[STATE_SLOT + i] + (1.0 - beta2) * g * g;
  state[i] = m;
  state[STATE_SLOT + i] = v;
  let step_size = lr / (1.0 - pow(beta1, t));
  let denom = sqrt(v) / sqrt(1.0 - pow(beta2, t)) + eps;
  params[i] = p - step_size * m / denom;
}
