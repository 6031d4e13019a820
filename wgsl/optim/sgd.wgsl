// SGD as torch.optim.SGD: hyper = [lr, momentum, dampening, nesterov (0 or 1), weight_decay].
// state[i] is the momentum buffer; on the first step (t = 1) it starts as the gradient itself.
fn optimizer_step(i: u32, grad: f32, t: f32) {
  let lr = hyper(0u);
  let momentum = hyper(1u);
  let dampening = hyper(2u);
  let nesterov = hyper(3u) != 0.0;
  let weight_decay = hyper(4u);
  var g = grad + weight_decay * params[i];
  if (momentum != 0.0) {
    var buf = g;
    if (t > 1.0) {
      buf = momentum * state[i] + (1.0 - dampening) * g;
    }
    state[i] = buf;
    if (nesterov) {
      g = g + momentum * buf;
    } else {
      g = buf;
    }
  }
  params[i] = params[i] - lr * g;
}
