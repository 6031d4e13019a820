/**
 * @file `fusegrad fit --hidden`: the options of a network, which of fit's options it refuses and
 * why, going on from a saved network (`--init`), and its report and plot, next to the
 * least-squares plane of the same rows.
 */
import { readFileSync } from 'node:fs';
import type { Selection } from '../regression/data.js';
import { ACTIVATIONS, type Activation, type NetworkOptions, type NetworkResult, MAX_LAYERS, MAX_UNITS, parameterCount, predictNetwork, savedNetwork } from '../regression/network.js';
import { extent, stack, svgChart, type Series } from '../regression/plot.js';
import { UsageError, oneOf } from './args.js';
import { checkNetwork } from './predict.js';

type Values = Record<string, string | boolean | undefined>;

/** The units of each layer of a --hidden list ("64,32"), as given: fit and explain read it alike. */
export const layerList = (text: string): string[] => text.split(',').map((u) => u.trim());

/** --hidden and --activation, or null for the linear model; the options a network does not take are refused here, each with why. */
export function networkOptions(values: Values): Pick<NetworkOptions, 'hidden' | 'activation'> | null {
  if (values.hidden === undefined) {
    if (values.activation !== undefined) throw new UsageError('--activation is for a network\'s hidden layers: give --hidden <units> too (say --hidden 8)');
    return null;
  }
  const text = String(values.hidden);
  const hidden = layerList(text);
  const bad = hidden.find((u) => !/^\d+$/.test(u) || Number(u) < 1 || Number(u) > MAX_UNITS);
  if (bad !== undefined || hidden.length > MAX_LAYERS) {
    throw new UsageError(`--hidden: expected the units of each hidden layer, comma-separated, each 1 to ${MAX_UNITS} (say 8, or 64,32), at most ${MAX_LAYERS} layers; got "${text}"${bad !== undefined ? ` ("${bad}" is not a unit count)` : ''}`);
  }
  const refused: [string, string][] = [
    ['bootstrap', "--bootstrap estimates the linear model's coefficients; a network's weights have no closed form to set beside them"],
    ['bootstrap-method', '--bootstrap-method goes with --bootstrap, which is for the linear model'],
    ['poly', '--poly makes the powers of one column for a linear model; a network bends by itself: give the column as --x'],
  ];
  for (const [flag, why] of refused) if (values[flag] !== undefined) throw new UsageError(`${why} (--${flag} with --hidden)`);
  for (const flag of ['lr', 'momentum', 'weight-decay']) {
    if (typeof values[flag] === 'string' && (values[flag] as string).includes(',')) throw new UsageError(`--${flag} ${values[flag]}: a sweep trains linear models; with --hidden give one value`);
  }
  if (values.init === 'zeros') throw new UsageError('--init zeros: a network started at zero never leaves it (every hidden unit gets the same gradient; with tanh or relu, none at all); leave --init out for seeded Glorot (tanh, sigmoid) or He (relu) starting weights');
  if (values.init === 'normal') throw new UsageError('--init normal is for the linear model; a network starts from seeded Glorot (tanh, sigmoid) or He (relu) normals when --init is left out (the seed is --seed)');
  const activation = oneOf(values, 'activation', [...ACTIVATIONS], 'tanh') as Activation;
  return { hidden: hidden.map(Number), activation };
}

/**
 * --init <network.json> with --hidden: a network saved by `fit --hidden --save`, of the same
 * columns, targets, layers and activation, goes on training from its weights in its own scaling.
 */
export function networkInit(file: string, sel: Selection, net: Pick<NetworkOptions, 'hidden' | 'activation'>): NetworkOptions['init'] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new UsageError(`--init ${file}: expected a network saved by fit --hidden --save, in a readable JSON file (${(err as Error).message})`);
  }
  const format = (parsed as { format?: unknown } | null)?.format;
  if (format !== 'fusegrad-network-1') throw new UsageError(`--init ${file}: with --hidden, --init takes a network saved by fit --hidden --save (format "fusegrad-network-1"), got ${format === 'fusegrad-linear-1' ? 'a linear model' : `format ${JSON.stringify(format)}`}`);
  const saved = checkNetwork(`--init ${file}`, parsed as Record<string, unknown>);
  const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  if (!same(saved.inputs, sel.features)) throw new UsageError(`--init ${file}: the saved network reads ${saved.inputs.join(',')}, this fit ${sel.features.join(',')} (give --x ${saved.inputs.join(',')})`);
  if (!same(saved.targets, sel.targets)) throw new UsageError(`--init ${file}: the saved network predicts ${saved.targets.join(',')}, this fit ${sel.targets.join(',')}`);
  if (!same(saved.hidden, net.hidden) || saved.activation !== net.activation) {
    throw new UsageError(`--init ${file}: the saved network has --hidden ${saved.hidden.join(',')} --activation ${saved.activation}, this fit --hidden ${net.hidden.join(',')} --activation ${net.activation ?? 'tanh'}`);
  }
  return { layers: saved.layers, scaling: saved.scaling };
}

/** "3 -> 8 tanh -> 1" */
export const shape = (r: Pick<NetworkResult, 'features' | 'hidden' | 'activation' | 'targets'>) => [String(r.features.length), ...r.hidden.map((u) => `${u} ${r.activation}`), String(r.targets.length)].join(' -> ');

const num = (v: number, w: number) => {
  const a = Math.abs(v);
  return (a !== 0 && (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : v.toPrecision(6)).padStart(w);
};

export function networkReport(r: NetworkResult, { dropped, droppedAt, skipped }: Selection, file: string, training: string[]): string {
  const out: string[] = [];
  out.push(`fusegrad fit: ${r.targets.join(', ')} ~ ${r.features.join(' + ')} from ${file}, by a network: ${shape(r)} (${parameterCount([r.features.length, ...r.hidden, r.targets.length])} parameters)`);
  out.push(`${r.n} training rows${r.validRows ? `, ${r.validRows} validation rows` : ''}${dropped ? `; dropped ${dropped} row${dropped > 1 ? 's' : ''} with a missing value (${droppedAt.join(', ')}${dropped > droppedAt.length ? ', ...' : ''})` : ''}`);
  if (skipped.length) out.push(`features: every numeric column but the target; not numeric, left out: ${skipped.join(', ')}`);
  const hyper = Object.entries(r.optimizer.hyper).filter(([k, v]) => k === 'lr' || v !== 0).map(([k, v]) => `${k} ${v}`).join(', ');
  out.push(`${r.device.backend} (${r.device.adapter}), ${r.device.plan} plan; ${r.optimizer.name} (${hyper}), ${r.epochs} epochs, on z-scores of x and y (a network always trains on them; the loss is in z-scores)`);
  out.push('', ...training, '');
  if (r.diverged) return out.join('\n').trimEnd();
  const valid = r.mse.valid !== undefined;
  const names = [`network (${shape(r)})`, 'least-squares plane (closed form)'];
  const w = Math.max(...names.map((n) => n.length)) + 2;
  r.targets.forEach((target, t) => {
    out.push(`mean squared error of ${target}, in its own units`, `${''.padEnd(w)}${'training'.padStart(14)}${valid ? 'validation'.padStart(14) : ''}`);
    for (const [name, e] of [[names[0]!, r.mse], [names[1]!, r.leastSquares.mse]] as const) out.push(`${name.padEnd(w)}${num(e.train[t]!, 14)}${valid ? num(e.valid![t]!, 14) : ''}`);
    const [net, plane, on] = valid ? [r.mse.valid![t]!, r.leastSquares.mse.valid![t]!, 'validation'] : [r.mse.train[t]!, r.leastSquares.mse.train[t]!, 'training'];
    out.push(`the network's ${on} error is ${Math.abs(100 * (net / plane - 1)).toFixed(1)}% ${net <= plane ? 'below' : 'above'} the plane's${valid ? '' : ' (on the rows it trained on: hold some out with --valid-frac to judge it)'}`, '');
  });
  return out.join('\n').trimEnd();
}

/** The loss curves, and each target's predictions against the data: along x for one feature, else predicted against actual. */
export function networkCharts(r: NetworkResult, X: number[][], Y: number[][]): string {
  const curves: Series[] = [{ name: 'training loss', style: 'line', points: r.history.loss.map((v, i) => [i + 1, v]) }];
  if (r.history.validLoss) curves.push({ name: 'validation loss', style: 'line', points: r.history.validLoss.map((v, i) => [i + 1, v]) });
  const charts = [svgChart(curves, { title: `Loss by epoch (${r.optimizer.name}, lr ${r.optimizer.hyper.lr}; z-scores)`, xLabel: 'epoch', yLabel: 'mean squared error', logY: true })];
  if (r.diverged) return stack(charts);
  const model = savedNetwork(r);
  const plane = (x: readonly number[], t: number) => x.reduce((s, v, j) => s + r.leastSquares.weight[t]![j]! * v, r.leastSquares.bias[t]!);
  r.targets.forEach((target, t) => {
    if (r.features.length === 1) {
      const xs = X.map((row) => row[0]!);
      const [lo, hi] = extent(xs);
      const grid = Array.from({ length: 200 }, (_, i) => lo + ((hi - lo) * i) / 199);
      charts.push(svgChart([
        { name: 'data', style: 'dots', points: xs.map((x, i) => [x, Y[i]![t]!]) },
        { name: 'least-squares line', style: 'line', color: '#2ca02c', points: grid.map((x) => [x, plane([x], t)]) },
        { name: `network (${shape(r)})`, style: 'line', color: '#d62728', points: grid.map((x) => [x, predictNetwork(model, [x])[t]!]) },
      ], { title: `${target} against ${r.features[0]}`, xLabel: r.features[0]!, yLabel: target }));
      return;
    }
    const [lo, hi] = extent(Y.map((y) => y[t]!));
    charts.push(svgChart([
      { name: 'least-squares plane', style: 'dots', color: '#2ca02c', points: X.map((x, i) => [Y[i]![t]!, plane(x, t)]) },
      { name: `network (${shape(r)})`, style: 'dots', color: '#d62728', points: X.map((x, i) => [Y[i]![t]!, predictNetwork(model, x)[t]!]) },
      { name: 'predicted = actual', style: 'line', points: [[lo, lo], [hi, hi]] },
    ], { title: `Predicted against actual ${target} (every row)`, xLabel: `actual ${target}`, yLabel: `predicted ${target}` }));
  });
  return stack(charts);
}
