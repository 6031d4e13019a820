/** @file Adam and AdamW with PyTorch's equations and defaults (torch.optim.Adam, torch.optim.AdamW). */
import { type Optimizer, checkRange } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

function make(name: 'adam' | 'adamw', decoupled: boolean, { lr = 1e-3, betas = [0.9, 0.999], eps = 1e-8, weightDecay = decoupled ? 1e-2 : 0 }: AdamOptions): Optimizer {
  checkRange(name, 'lr', lr, 0, Infinity, true, true);
  checkRange(name, 'betas[0]', betas[0], 0, 1, false, true);
  checkRange(name, 'betas[1]', betas[1], 0, 1, false, true);
  checkRange(name, 'eps', eps, 0, Infinity, false, true);
  checkRange(name, 'weightDecay', weightDecay, 0, Infinity, false, true);
  return {
    name,
    hyper: { lr, beta1: betas[0], beta2: betas[1], eps, weightDecay, decoupled: decoupled ? 1 : 0 },
    slots: 2,
    check: (h) => void make(name, h.decoupled === 1, { lr: h.lr, betas: [h.beta1!, h.beta2!], eps: h.eps, weightDecay: h.weightDecay }),
    rule: 'adam',
    step(param, grad, [m, v], [rate, b1, b2, e, wd, dec], t) {
      const stepSize = rate! / (1 - b1! ** t);
      const correction2 = Math.sqrt(1 - b2! ** t);
      for (let i = 0; i < param.length; i++) {
        let g = grad[i]!;
        let p = param[i]!;
        if (dec) p *= 1 - rate! * wd!;
        else g += wd! * p;
        const mi = b1! * m![i]! + (1 - b1!) * g;
        const vi = b2! * v![i]! + (1 - b2!) * g * g;
        m![i] = mi;
        v![i] = vi;
        param[i] = p - (stepSize * mi) / (Math.sqrt(vi) / correction2 + e!);
      }
    },
  };
}

/**
 * Adam (weight decay as an L2 term added to the gradient).
 * @example compile(g, { loss, optimizer: adam({ lr: 0.1 }) })
 */
export const adam = (options: AdamOptions = {}): Optimizer => make('adam', false, options);

/** AdamW (decoupled weight decay: p scaled by 1 - lr * weightDecay before the Adam step; default 0.01). */
export const adamw = (options: AdamOptions = {}): Optimizer => make('adamw', true, options);
