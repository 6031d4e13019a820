/** @file Stochastic gradient descent with PyTorch's equations and defaults (torch.optim.SGD). */
import { type Optimizer, OptimizerError, checkRange } from './optimizer.js';

export interface SgdOptions {
  /** Learning rate; PyTorch's default is 1e-3. */
  lr?: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient: g + weightDecay * p. */
  weightDecay?: number;
}

/**
 * @example
 * const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend });
 * sgd({ lr: 0.01, momentum: 0.9, nesterov: true });
 */
export function sgd({ lr = 1e-3, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 }: SgdOptions = {}): Optimizer {
  checkRange('sgd', 'lr', lr, 0, Infinity, true, true);
  checkRange('sgd', 'momentum', momentum, 0, Infinity, false, true);
  checkRange('sgd', 'dampening', dampening, 0, 1);
  checkRange('sgd', 'weightDecay', weightDecay, 0, Infinity, false, true);
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new OptimizerError('sgd: Nesterov momentum needs momentum > 0 and dampening 0 (as in PyTorch)');
  return {
    name: 'sgd',
    hyper: { lr, momentum, dampening, nesterov: nesterov ? 1 : 0, weightDecay },
    // A momentum buffer even at momentum 0: a sweep's replicate or setHyper may turn momentum on.
    slots: 1,
    check: (h) => void sgd({ lr: h.lr, momentum: h.momentum, dampening: h.dampening, nesterov: h.nesterov === 1, weightDecay: h.weightDecay }),
    // Heavy-ball momentum adds mu times the last step to every step: at mu >= 1 the steps never
    // shrink, whatever the learning rate, so the parameters grow without bound.
    unstable: (h) => (h.momentum! >= 1 ? `momentum ${h.momentum} is outside its stable range [0, 1): each step then carries all of the last one forward and the parameters grow at any learning rate; use a momentum below 1 (0.9 is usual)` : null),
    rule: 'sgd',
    step(param, grad, state, [rate, mu, damp, nest, wd], t) {
      const buf = state[0];
      for (let i = 0; i < param.length; i++) {
        let g = grad[i]! + wd! * param[i]!;
        if (mu !== 0) {
          const b = t > 1 ? mu! * buf![i]! + (1 - damp!) * g : g;
          buf![i] = b;
          g = nest ? g + mu! * b : b;
        }
        param[i] = param[i]! - rate! * g;
      }
    },
  };
}
