/** @file Plain stochastic gradient descent: p -= lr * grad. */
import type { Optimizer } from './optimizer.js';

export interface SgdOptions {
  /** Learning rate (PyTorch's default for SGD is required too; we pick 1e-3 as a safe start). */
  lr?: number;
}

/**
 * @example
 * const model = await compile(g, { loss, optimizer: sgd({ lr: 1e-5 }), backend });
 */
export function sgd({ lr = 1e-3 }: SgdOptions = {}): Optimizer {
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`sgd: learning rate must be a positive finite number, got ${lr}`);
  return {
    name: 'sgd',
    hyper: { lr },
    slots: 0,
    kernel: 'sgd',
    step(param, grad, _state, [rate]) {
      for (let i = 0; i < param.length; i++) param[i] = param[i]! - rate! * grad[i]!;
    },
  };
}
