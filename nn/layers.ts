/**
 * @file Layers: the graph nodes of a dense layer or a stack of them, with their parameters named
 * and started from an initializer (by default the one PyTorch's nn.Linear uses), so a network is
 * a line rather than a page of params, matmuls and adds. Each helper only adds nodes to the graph;
 * compile() writes the starting values.
 */
import type { Graph, Tensor } from '../engine/graph.js';
import { type Init, type InitRule } from '../engine/init.js';
import { mix } from '../engine/random.js';
import { ShapeError } from '../engine/shape.js';

/** An activation between layers. */
export type Activation = 'tanh' | 'relu' | 'sigmoid';
export const ACTIVATIONS: readonly Activation[] = ['tanh', 'relu', 'sigmoid'];

/** A weight's initializer by rule, seeded by the layer; or an initializer in full. */
export type WeightInit = Extract<InitRule, 'linear' | 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal' | 'zeros'> | Init;
/** A bias's initializer: nn.Linear's, zeros, or one in full. */
export type BiasInit = 'linear' | 'zeros' | Init;

export interface LinearOptions {
  /** The weight's name (default `W`): a [units, inputs] parameter, a row per unit, as torch's Linear. */
  weight?: string;
  /** The bias's name (default `b`), or false for a layer without one. */
  bias?: string | false;
  /** Default `linear`: U(±1/√inputs), nn.Linear's. */
  weightInit?: WeightInit;
  /** Default `linear`, as nn.Linear's bias. */
  biasInit?: BiasInit;
  /** Seeds the weight's and the bias's draws (default 0): the same seed, the same start. */
  seed?: number;
}

/** Two seeds from one, for a layer's weight and bias (and for each layer of a stack). */
const derive = (seed: number, k: number) => mix((seed ^ Math.imul(k + 1, 0x9e3779b9)) >>> 0);

function resolve(init: WeightInit | BiasInit, fanIn: number, seed: number): Init {
  if (typeof init === 'object') return init;
  if (init === 'zeros') return { rule: 'zeros' };
  if (init === 'linear') return { rule: 'linear', fanIn, seed };
  if (init === 'glorotUniform' || init === 'glorotNormal') return { rule: init, gain: 1, seed };
  return { rule: init, seed };
}

/**
 * A dense layer, `x Wᵀ + b`: x is [rows, inputs], the result [rows, units]. Its parameters are
 * `W` [units, inputs] and `b` [units] unless named otherwise.
 *
 * @example
 * const y = linear(g, X, 1);                         // y = X Wᵀ + b, started as nn.Linear starts
 */
export function linear(g: Graph, x: Tensor, units: number, options: LinearOptions = {}): Tensor {
  const { weight = 'W', bias = 'b', weightInit = 'linear', biasInit = 'linear', seed = 0 } = options;
  if (x.shape.length !== 2) throw new ShapeError(`linear: the input must be [rows, features], got [${x.shape}]`);
  if (!Number.isInteger(units) || units < 1) throw new ShapeError(`linear: units must be a whole number >= 1, got ${units}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ShapeError(`linear: seed must be a whole number in [0, 4294967295], got ${seed}`);
  const fanIn = x.shape[1]!;
  const W = g.param(weight, [units, fanIn], resolve(weightInit, fanIn, derive(seed, 0)));
  const z = g.matmul(x, W, { transB: true });
  return bias === false ? z : g.add(z, g.param(bias, [units], resolve(biasInit, fanIn, derive(seed, 1))));
}

export interface MlpOptions {
  /** Initializers of every layer's weight and bias (defaults: nn.Linear's). A rule is seeded per layer. */
  weightInit?: WeightInit;
  biasInit?: BiasInit;
  /** Seeds every layer's draws, each its own (default 0). */
  seed?: number;
}

/**
 * A stack of dense layers with `activation` between them: `sizes` are each layer's units, the
 * last being the outputs, which get no activation (a regression's prediction). Parameters are
 * named W1, b1, ..., as `fusegrad fit --hidden` names them.
 *
 * @example
 * const pred = mlp(g, X, [64, 32, 1], 'tanh');      // 64 and 32 tanh units, one output
 */
export function mlp(g: Graph, x: Tensor, sizes: readonly number[], activation: Activation, options: MlpOptions = {}): Tensor {
  const { weightInit, biasInit, seed = 0 } = options;
  if (!Array.isArray(sizes) || !sizes.length) throw new ShapeError(`mlp: sizes must list each layer's units, the outputs last (e.g. [64, 32, 1]), got ${JSON.stringify(sizes)}`);
  if (!ACTIVATIONS.includes(activation)) throw new ShapeError(`mlp: the activation is one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(activation)}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ShapeError(`mlp: seed must be a whole number in [0, 4294967295], got ${seed}`);
  let h = x;
  sizes.forEach((units, l) => {
    const z = linear(g, h, units, { weight: `W${l + 1}`, bias: `b${l + 1}`, weightInit, biasInit, seed: derive(seed, 2 + l) });
    h = l === sizes.length - 1 ? z : g[activation](z);
  });
  return h;
}
