/**
 * @file Initializers: how a parameter's values start, kept on its graph node as a rule (so explain
 * prints it and a saved model carries it) and turned into seeded values when the graph is
 * compiled. The rules and their scales are PyTorch's `torch.nn.init` (and `nn.Linear`'s default);
 * the draws are our own counter-based stream (engine/random.ts), so the distributions match
 * PyTorch's and the numbers do not.
 */
import { normals, uniforms } from './random.js';
import { type Shape, ShapeError, fmtShape, sizeOf } from './shape.js';

/**
 * A parameter's starting values. `fanIn` and `fanOut` of a weight [out, in] are `in` and `out`,
 * as torch reads a Linear's weight.
 * - `zeros`, `constant`: every value the same.
 * - `normal` (mean, std), `uniform` (low, high).
 * - `glorotUniform` U(±gain·√(6/(fanIn+fanOut))), `glorotNormal` N(0, gain·√(2/(fanIn+fanOut))):
 *   torch's xavier_uniform_ and xavier_normal_.
 * - `heUniform` U(±√(6/fanIn)), `heNormal` N(0, √(2/fanIn)): torch's kaiming_uniform_ and
 *   kaiming_normal_ for relu (fan_in mode).
 * - `linear` U(±1/√fanIn): what torch's nn.Linear starts its weight and its bias from (its
 *   kaiming_uniform_ with a = √5 comes to this bound); `fanIn` is the layer's inputs, so a bias
 *   takes its weight's.
 */
export type Init =
  | { rule: 'zeros' }
  | { rule: 'constant'; value: number }
  | { rule: 'normal'; mean: number; std: number; seed: number }
  | { rule: 'uniform'; low: number; high: number; seed: number }
  | { rule: 'glorotUniform' | 'glorotNormal'; gain: number; seed: number }
  | { rule: 'heUniform' | 'heNormal'; seed: number }
  | { rule: 'linear'; fanIn: number; seed: number };

export type InitRule = Init['rule'];

export const INIT_RULES: readonly InitRule[] = ['zeros', 'constant', 'normal', 'uniform', 'glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'linear'];

/** The fields each rule takes, beside `rule`. */
const FIELDS: Record<InitRule, readonly string[]> = {
  zeros: [],
  constant: ['value'],
  normal: ['mean', 'std', 'seed'],
  uniform: ['low', 'high', 'seed'],
  glorotUniform: ['gain', 'seed'],
  glorotNormal: ['gain', 'seed'],
  heUniform: ['seed'],
  heNormal: ['seed'],
  linear: ['fanIn', 'seed'],
};

/** A weight's fan in and fan out: [out, in] reads as torch reads a Linear's weight. */
function fans(shape: Shape, what: string, rule: string): [number, number] {
  if (shape.length !== 2) throw new ShapeError(`${what}: ${rule} needs a [out, in] weight, got ${fmtShape(shape)}`);
  return [shape[1]!, shape[0]!];
}

/**
 * Checks an initializer for a parameter of `shape` (`what` names the parameter): a known rule,
 * its fields finite numbers (a seed a whole number in [0, 2³²), a spread over 0), and a
 * weight's shape for the rules that read fans. Returns it, as a plain object.
 */
export function checkInit(init: unknown, shape: Shape, what: string): Init {
  const bad = (why: string) => new ShapeError(`${what}: ${why}`);
  if (init === null || typeof init !== 'object' || Array.isArray(init)) throw bad(`an initializer is an object such as { rule: 'normal', mean: 0, std: 0.1, seed: 0 }, got ${JSON.stringify(init)}`);
  const o = init as Record<string, unknown>;
  const rule = o.rule as InitRule;
  if (!INIT_RULES.includes(rule)) throw bad(`unknown initializer rule ${JSON.stringify(o.rule)}; the rules are ${INIT_RULES.join(', ')}`);
  for (const key of Object.keys(o)) if (key !== 'rule' && !FIELDS[rule].includes(key)) throw bad(`the ${rule} initializer has no field "${key}" (it takes ${FIELDS[rule].join(', ') || 'none'})`);
  for (const key of FIELDS[rule]) {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`the ${rule} initializer's ${key} must be a finite number, got ${typeof v === 'number' ? v : JSON.stringify(v) ?? 'undefined'}`);
    if (key === 'seed' && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw bad(`the ${rule} initializer's seed must be a whole number in [0, 4294967295], got ${v}`);
    if ((key === 'std' || key === 'gain') && !(v > 0)) throw bad(`the ${rule} initializer's ${key} must be over 0, got ${v}`);
    if (key === 'fanIn' && !(Number.isInteger(v) && v >= 1)) throw bad(`the ${rule} initializer's fanIn must be a whole number >= 1, got ${v}`);
  }
  if (rule === 'uniform' && !((o.high as number) > (o.low as number))) throw bad(`the uniform initializer needs high > low, got low ${o.low} and high ${o.high}`);
  if (rule.startsWith('glorot') || rule.startsWith('he')) fans(shape, what, rule);
  return { ...o } as Init;
}

/** The starting values of a parameter of `shape`, in row-major order. */
export function initValues(init: Init, shape: Shape): Float64Array {
  const n = sizeOf(shape);
  const spread = (low: number, high: number, seed: number) => uniforms(n, seed).map((u) => low + (high - low) * u);
  const normal = (mean: number, std: number, seed: number) => normals(n, seed).map((z) => mean + std * z);
  switch (init.rule) {
    case 'zeros':
      return new Float64Array(n);
    case 'constant':
      return new Float64Array(n).fill(init.value);
    case 'normal':
      return normal(init.mean, init.std, init.seed);
    case 'uniform':
      return spread(init.low, init.high, init.seed);
    case 'glorotUniform':
    case 'glorotNormal': {
      const [fanIn, fanOut] = fans(shape, 'init', init.rule);
      const std = init.gain * Math.sqrt(2 / (fanIn + fanOut));
      return init.rule === 'glorotNormal' ? normal(0, std, init.seed) : spread(-Math.sqrt(3) * std, Math.sqrt(3) * std, init.seed);
    }
    case 'heUniform':
    case 'heNormal': {
      const std = Math.sqrt(2 / fans(shape, 'init', init.rule)[0]);
      return init.rule === 'heNormal' ? normal(0, std, init.seed) : spread(-Math.sqrt(3) * std, Math.sqrt(3) * std, init.seed);
    }
    case 'linear': {
      const bound = 1 / Math.sqrt(init.fanIn);
      return spread(-bound, bound, init.seed);
    }
  }
}

/** An initializer as the graph printer shows it: `linear U(±0.447), seed 3`. */
export function formatInit(init: Init, shape: Shape): string {
  const f = (v: number) => Number(v.toPrecision(3)).toString();
  switch (init.rule) {
    case 'zeros':
      return 'zeros';
    case 'constant':
      return `constant ${init.value}`;
    case 'normal':
      return `normal N(${f(init.mean)}, ${f(init.std)}), seed ${init.seed}`;
    case 'uniform':
      return `uniform U(${f(init.low)}, ${f(init.high)}), seed ${init.seed}`;
    case 'linear':
      return `linear U(±${f(1 / Math.sqrt(init.fanIn))}), seed ${init.seed}`;
    default: {
      const [fanIn, fanOut] = fans(shape, 'init', init.rule);
      const std = (init.rule.startsWith('glorot') ? (init as { gain: number }).gain * Math.sqrt(2 / (fanIn + fanOut)) : Math.sqrt(2 / fanIn));
      return `${init.rule} ${init.rule.endsWith('Normal') ? `N(0, ${f(std)})` : `U(±${f(Math.sqrt(3) * std)})`}, seed ${init.seed}`;
    }
  }
}
