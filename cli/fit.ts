/** @file `fusegrad fit`: a CSV or JSON file in, a model fitted by gradient descent out, next to the closed form. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import asciichart from 'asciichart';
import cliProgress from 'cli-progress';
import { InputError, type Selection, selectColumns } from '../regression/data.js';
import { readTable } from '../regression/datafile.js';
import { type BootstrapMethod, type FitOptions, type FitResult, type OptimizerName, type SavedModel, type SweptName, fitRegression, savedModel } from '../regression/fit.js';
import { type NetworkResult, type SavedNetwork, fitNetwork, savedNetwork } from '../regression/network.js';
import { LARGE_CONDITION } from '../regression/ols.js';
import { PALETTE, type Series, extent, histogram, normalCurve, stack, svgChart, svgToPng } from '../regression/plot.js';
import type { DeviceKind } from '../runtime/device.js';
import { requestBackend } from '../runtime/device.js';
import { UsageError, Unwritten, intOption, notAnInput, numberOption, oneOf, writableFile, writeOutput } from './args.js';
import { stage } from './child.js';
import { networkCharts, networkInit, networkOptions, networkReport } from './network.js';
import { STDERR_TTY } from './quiet.js';

export const FIT_HELP = `fusegrad fit <file.csv|file.json> --y <column> [options]

Fits y = x·w + b by gradient descent (on WebGPU when there is an adapter) and prints the loss
curve and the coefficients next to the closed-form least-squares answer with standard errors
and 95% intervals; with --hidden, a network, judged against that plane.

Data:
  --y <cols>              column(s) to predict (comma-separated for several)
  --x <cols>              feature columns (default: every other numeric column)
  --poly <degree>         polynomial terms x, x^2, ... of a single --x column
  --standardize           z-score each x and y (population sd); report both units
  --valid-frac <f>        hold out a seeded fraction of rows; its loss is recorded every epoch
Training:
  --optimizer <name>      sgd (default) | adam | adamw
  --lr <rate[,rate...]>   learning rate (default 0.01 for sgd, 0.001 for adam/adamw)
  --momentum <m[,m...]>   sgd momentum (default 0)
  --weight-decay <wd[,...]>  L2 penalty (sgd, adam) or decoupled decay (adamw, default 0.01)
                          Several comma-separated values of these: a sweep, one model per setting
                          trained together (lists pair up by position; a single value goes to every
                          model), a table of final losses and the loss curves plotted together
  --epochs <n>            epochs (default 1000)
  --batch-size <n>        minibatch rows (default: all rows)
  --shuffle               reshuffle the rows every epoch (on the device)
  --seed <n>              seed for the shuffle, the split and --init normal (default 0)
  --init <how>            zeros (default) | normal | <file.json> {"weight": [[...]], "bias": [...]}
                          in the units trained on, or a model saved by --save (its coefficients, in
                          the data's units, start this fit in its own units)
  --bootstrap <B>         also fit B bootstrap resamples (drawn on the device, trained together):
                          each coefficient's bootstrap mean, standard error and percentile 95% interval
  --bootstrap-method <m>  pairs (default): rows drawn with replacement, robust to a spread that
                          changes with x | residuals: x kept, y = closed-form fit + resampled
                          (leverage-adjusted) residuals, which assumes one error variance, as the
                          classical standard error does
  --device <device>       auto (default) | webgpu | cpu
Network:
  --hidden <units,...>    a network instead of the plane: hidden layers of these units (say 8, or
                          64,32), trained on z-scores of x and y from seeded Glorot (tanh, sigmoid)
                          or He (relu) normals; the report sets its errors beside the least-squares
                          plane's, --save writes it for predict, --init <network.json> goes on from a
                          saved one (not with --bootstrap, --poly or a sweep)
  --activation <f>        the hidden layers' function: tanh (default) | relu | sigmoid
Output:
  --log-every <k>         print the loss every k epochs (default: 10 lines)
  --save <model.json>     save the model for fusegrad predict
  --plot <file.svg|.png>  loss curves (training and validation), the data with the fitted line for
                          one x, and with --bootstrap each coefficient's bootstrap distribution
  --json                  one JSON object on stdout, nothing else

Exit codes: 0 done; 2 bad usage or data; 3 the training diverged (the loss curve and the reason
are printed, nothing is saved); 4 --save or --plot could not be written (the report is printed,
the file keeps its old bytes); 1 a failure inside; 130 SIGINT, 143 SIGTERM (nothing half-written).
`;

export const FIT_OPTIONS = {
  y: { type: 'string' },
  x: { type: 'string' },
  poly: { type: 'string' },
  standardize: { type: 'boolean' },
  'valid-frac': { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  shuffle: { type: 'boolean' },
  seed: { type: 'string' },
  init: { type: 'string' },
  device: { type: 'string' },
  bootstrap: { type: 'string' },
  'bootstrap-method': { type: 'string' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  'log-every': { type: 'string' },
  save: { type: 'string' },
  plot: { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Values = Record<string, string | boolean | undefined>;

export function readData(file: string | undefined) {
  if (!file) throw new InputError('name a data file (CSV or JSON)');
  return readTable(file);
}

const list = (v: string | boolean | undefined) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

export async function fit(values: Values, positionals: string[]): Promise<string> {
  if (positionals.length > 1) throw new InputError(`fit takes one data file, got ${positionals.length}: ${positionals.join(' ')}`);
  stage('reading the data');
  const table = readData(positionals[0]);
  const sel = selectColumns(table, list(values.y) ?? [], list(values.x));
  const json = values.json === true;
  const epochs = intOption(values, 'epochs', 1000, 1);
  const poly = values.poly !== undefined ? intOption(values, 'poly', 1, 1) : undefined;
  const net = networkOptions(values);
  const initFile = typeof values.init === 'string' && values.init !== 'zeros' && values.init !== 'normal' ? values.init : undefined;
  const init: FitOptions['init'] = net ? undefined : initFile ? initFrom(initFile, sel, poly) : values.init === 'normal' ? 'normal' : 'zeros';
  const networkStart = net && initFile ? networkInit(initFile, sel, net) : undefined;
  const options: FitOptions = {
    optimizer: oneOf(values, 'optimizer', ['sgd', 'adam', 'adamw'], 'sgd') as OptimizerName,
    epochs,
    shuffle: values.shuffle === true,
    seed: seedOption(values),
    standardize: values.standardize === true,
    init,
  };
  const sweep = sweepOptions(values);
  if (sweep) options.sweep = sweep;
  if (values.lr !== undefined && !sweep?.lr) options.lr = numberOption(values, 'lr', 0.01);
  if (values.momentum !== undefined && !sweep?.momentum) options.momentum = numberOption(values, 'momentum', 0);
  if (values['weight-decay'] !== undefined && !sweep?.weightDecay) options.weightDecay = numberOption(values, 'weight-decay', 0);
  if (values.bootstrap !== undefined) options.bootstrap = intOption(values, 'bootstrap', 2, 2);
  if (values['bootstrap-method'] !== undefined) options.bootstrapMethod = oneOf(values, 'bootstrap-method', ['pairs', 'residuals'], 'pairs') as BootstrapMethod;
  if (values['batch-size'] !== undefined) options.batchSize = intOption(values, 'batch-size', 1, 1);
  if (values['valid-frac'] !== undefined) options.validFrac = numberOption(values, 'valid-frac', 0);
  if (poly !== undefined) options.poly = poly;
  const device = oneOf(values, 'device', ['auto', 'webgpu', 'cpu'], 'auto') as DeviceKind;
  const logEvery = intOption(values, 'log-every', Math.max(1, Math.round(epochs / 10)), 1);
  const plot = typeof values.plot === 'string' ? values.plot : undefined;
  if (plot && !/\.(svg|png)$/i.test(plot)) throw new InputError(`--plot: the file must end in .svg or .png, got ${plot}`);
  const save = typeof values.save === 'string' ? writableFile('save', values.save) : undefined;
  // Nothing the command reads is overwritten by it (the data, the --init model), nor one output by the other.
  const inputs: [string, string][] = [['data file', table.file], ...(initFile ? [['--init model', initFile] as [string, string]] : [])];
  if (plot) {
    writableFile('plot', plot);
    notAnInput('plot', plot, inputs);
  }
  if (save) notAnInput('save', save, inputs);
  if (save && plot && resolve(save) === resolve(plot)) throw new UsageError(`--save and --plot name one file (${save}): give each its own`);

  const backend = await requestBackend({ device, log: (line) => process.stderr.write(`${line}\n`) });
  let bar: cliProgress.SingleBar | undefined;
  try {
    // A progress bar only where someone watches: a terminal, no --json, and a run long enough (it costs one read per 5%).
    const terminal = json ? null : terminalStderr();
    const barred = terminal !== null && epochs * sel.X.length >= 5e6;
    if (barred) options.chunks = 20;
    let compiling = false;
    options.onStage = (now) => {
      if (now === 'bootstrap') {
        stage(`training the ${options.bootstrap} bootstrap replicates, before the fit itself`);
        // They compile and train as one run, which can be long: a terminal shows it, as it shows the compile.
        if (terminal) terminal.write(`fusegrad fit: compiling and training ${options.bootstrap} bootstrap replicates (${sel.features.length} features, ${backend.kind}) ...`);
        compiling = terminal !== null;
      }
      if (now === 'compile') {
        if (compiling) terminal!.write('\r\x1b[2K');
        stage('compiling the model');
        // A wide model can compile for minutes: a terminal shows what is going on, and the line goes when it is done.
        const layers = net ? `, hidden ${net.hidden.join(',')} ${net.activation}` : '';
        if (terminal) terminal.write(`fusegrad fit: compiling the model (${sel.features.length} features, ${sel.targets.length} target${sel.targets.length > 1 ? 's' : ''}${layers}, ${backend.kind}) ...`);
        compiling = terminal !== null;
      }
      if (now !== 'train') return;
      if (compiling) terminal!.write('\r\x1b[2K');
      stage(`training: 0 of ${epochs} epochs done${barred ? '' : ' (a run without a progress bar reports only at its end)'}`);
      if (!barred) return;
      bar = new cliProgress.SingleBar({ format: 'training [{bar}] {value}/{total} epochs', stream: terminal! }, cliProgress.Presets.shades_classic);
      bar.start(epochs, 0);
    };
    options.onProgress = (done) => {
      bar?.update(done);
      stage(`training: ${done} of ${epochs} epochs done`);
    };
    options.rowName = (i) => table.where(sel.kept[i]!);
    const r: FitResult | NetworkResult = net
      ? await fitNetwork(sel.X, sel.Y, sel.features, sel.targets, backend, { ...options, ...net, init: networkStart }).catch(cliWorded(epochs))
      : await fitRegression(sel.X, sel.Y, sel.features, sel.targets, backend, options).catch(cliWorded(epochs));
    bar?.stop();
    stage(`writing the outputs, after training ${r.epochs} epochs`);
    // A diverged model is no result: nothing is saved, the report says why, and the exit code is 3.
    const failure = 'kind' in r ? (r.diverged ? `the training diverged: ${r.diverged.message}` : null) : failed(r, save !== undefined);
    // A failed output loses nothing else: the other file is still written, the report still printed.
    const unwritten: string[] = [];
    const saved = 'kind' in r ? savedNetwork(r) : savedModel(r);
    if (save && !failure) await writeOutput('save', save, `${JSON.stringify(saved, null, 2)}\n`).catch((err: Error) => unwritten.push(err.message));
    if (plot) await ('kind' in r ? writeSvg(plot, networkCharts(r, sel.X, sel.Y)) : writePlot(plot, r, sel.X, sel.Y)).catch((err: Error) => unwritten.push(err.message.startsWith('--plot') ? err.message : `--plot ${plot}: the plot failed (${err.message})`));
    const text = json
      ? JSON.stringify({ ...r, dropped: sel.dropped }, honest)
      : 'kind' in r
        ? networkReport(r, sel, table.file, trainingLines(r, r.diverged !== undefined, logEvery, ' (z-scores)'))
        : report(r, sel, logEvery, table.file);
    if (failure) throw new Diverged(`${failure}${save ? ` Nothing was saved to ${save}.` : ''}${unwritten.map((u) => ` And ${u}.`).join('')}`, text);
    if (unwritten.length) throw new Unwritten(unwritten, text);
    return text;
  } finally {
    bar?.stop();
    backend.dispose();
  }
}

/**
 * --init <file.json>: weights in the units trained on, or a model saved by --save, whose
 * coefficients are in the data's own units (this fit turns them into its own, z-scores with
 * --standardize); a saved model must read the same columns, targets and polynomial as this fit.
 */
function initFrom(file: string, sel: Selection, poly: number | undefined): FitOptions['init'] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InputError(`--init ${file}: expected zeros, normal or a readable JSON file (${(err as Error).message})`);
  }
  const saved = parsed as Partial<SavedModel>;
  const network = parsed as Partial<SavedNetwork> | null;
  if (network?.format === 'fusegrad-network-1') {
    const flags = `--hidden ${String(network.hidden)} --activation ${String(network.activation)}`;
    throw new UsageError(`--init ${file}: is a network (${flags}); give ${flags} to go on training it`);
  }
  if (saved?.format !== 'fusegrad-linear-1') return parsed as FitOptions['init'];
  const same = (a: unknown, b: string[]) => Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
  if (!same(saved.targets, sel.targets)) throw new InputError(`--init ${file}: the saved model predicts ${String(saved.targets)}, this fit ${sel.targets.join(',')}`);
  if (!same(saved.inputs, sel.features)) throw new InputError(`--init ${file}: the saved model reads ${String(saved.inputs)}, this fit ${sel.features.join(',')} (give --x ${String(saved.inputs)})`);
  if (saved.poly?.degree !== poly) throw new InputError(`--init ${file}: the saved model has ${saved.poly ? `--poly ${saved.poly.degree}` : 'no --poly'}, this fit ${poly ? `--poly ${poly}` : 'none'}`);
  return { weight: saved.weight as number[][], bias: saved.bias as number[], units: 'data' };
}

/**
 * The device's refusal of a run's length, worded for this command: the limit's numbers, and
 * how to go on (the library's advice names train(), which a command's user never calls).
 */
function cliWorded(epochs: number): (err: unknown) => never {
  return (err) => {
    const e = err as Error;
    if (e?.name === 'PlanError' && e.message.startsWith('train: ')) {
      const limit = e.message.slice('train: '.length).replace(/; train in shorter runs.*$/s, '');
      throw new UsageError(`--epochs ${epochs}: ${limit}; give fewer epochs, and to go on, save the model (--save a.json) and start the next run from it (--init a.json --save b.json)`);
    }
    throw err;
  };
}

/**
 * stderr when it is a terminal: the real one, or, in the filtered child (cli/quiet.ts), the pipe to
 * a parent whose stderr is a terminal of the width it passed on, dressed as one for the progress bar.
 */
function terminalStderr(): NodeJS.WritableStream | null {
  if (process.stderr.isTTY) return process.stderr;
  const columns = Number(process.env[STDERR_TTY]);
  if (!columns) return null;
  return Object.assign(Object.create(process.stderr) as NodeJS.WritableStream, { isTTY: true, columns, write: process.stderr.write.bind(process.stderr) });
}

/** A fit that diverged: the command prints its report (or JSON), then this message, and exits 3. */
export class Diverged extends Error {
  override name = 'Diverged';
  constructor(
    message: string,
    readonly report: string,
  ) {
    super(message);
  }
}

/**
 * Why the fit's result is unusable, or null: its model diverged, every model of a sweep did (or,
 * with --save, the first setting's, the model a sweep saves), or every bootstrap replicate did.
 */
function failed(r: FitResult, saving: boolean): string | null {
  if (r.diverged) return `the training diverged: ${r.diverged.message}`;
  if (r.sweep?.[0]?.diverged) {
    if (r.sweep.every((s) => s.diverged)) return `every setting of the sweep diverged (first: lr ${r.sweep[0].lr}: ${r.sweep[0].diverged})`;
    if (saving) return `the sweep's first setting (lr ${r.sweep[0].lr}), the model --save keeps, diverged: ${r.sweep[0].diverged}`;
  }
  if (r.bootstrap && r.bootstrap.diverged === r.bootstrap.replicates) return `every one of the ${r.bootstrap.replicates} bootstrap replicates diverged: the learning rate (${r.optimizer.hyper.lr}) is probably too large for them; try a smaller one (say 10x smaller), or standardize the features`;
  return null;
}

/** JSON has no Infinity or NaN: a diverged loss is written as the string "Infinity" or "NaN" rather than as null. */
const honest = (_key: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);

/** --seed: the device keeps it in 32 bits, so 2^32 would train exactly as 0 does. */
function seedOption(values: Values): number {
  const seed = intOption(values, 'seed', 0, 0);
  if (seed > 0xffffffff) throw new UsageError(`--seed: expected an integer in [0, 4294967295] (the shuffle's seed is 32-bit), got ${values.seed}`);
  return seed;
}

const f = (v: number, w = 12) => {
  const a = Math.abs(v);
  return (a !== 0 && (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : v.toFixed(5)).padStart(w);
};

/**
 * --lr, --momentum and --weight-decay with several comma-separated values: a sweep, one model per
 * setting. Lists pair up by position and must be of one length; a single value goes to every model.
 */
function sweepOptions(values: Values): FitOptions['sweep'] {
  const flags: [SweptName, string][] = [['lr', 'lr'], ['momentum', 'momentum'], ['weightDecay', 'weight-decay']];
  const lists = flags
    .filter(([, flag]) => typeof values[flag] === 'string' && (values[flag] as string).includes(','))
    .map(([name, flag]) => {
      const list = (values[flag] as string).split(',').map((v) => {
        const x = Number(v.trim());
        const ok = v.trim() !== '' && Number.isFinite(x) && (name === 'lr' ? x > 0 : x >= 0);
        if (!ok) throw new InputError(`--${flag}: "${v.trim()}" is not a ${name === 'lr' ? 'positive' : 'non-negative'} number`);
        return x;
      });
      return [name, flag, list] as const;
    });
  if (!lists.length) return undefined;
  const length = lists[0]![2].length;
  const odd = lists.find(([, , list]) => list.length !== length);
  if (odd) throw new InputError(`--${lists[0]![1]} has ${length} values and --${odd[1]} ${odd[2].length}: give the swept options lists of one length (a single value goes to every model)`);
  return Object.fromEntries(lists.map(([name, , list]) => [name, list]));
}

/**
 * The part of a fit's report that every model has: the loss every `logEvery` epochs, its chart, and
 * the compile and training times (with the final loss unless the run exploded).
 */
export function trainingLines(r: Pick<FitResult, 'history' | 'timing' | 'finalLoss'>, exploded: boolean, logEvery: number, unit = ''): string[] {
  const out: string[] = [];
  const { loss, validLoss } = r.history;
  for (let e = 0; e < loss.length; e++) {
    if ((e + 1) % logEvery === 0 || e === 0 || e === loss.length - 1) {
      out.push(`  epoch ${String(e + 1).padStart(6)}  loss ${f(loss[e]!, 14)}${validLoss ? `  validation ${f(validLoss[e]!, 14)}` : ''}`);
    }
  }
  const finite = loss.filter((v) => Number.isFinite(v) && v > 0);
  if (finite.length > 1) {
    const step = Math.max(1, Math.ceil(finite.length / 70));
    const series = finite.filter((_, i) => i % step === 0).map((v) => Math.log10(v));
    out.push('', '  log10(training loss) by epoch', asciichart.plot(series, { height: 8, format: (v: number) => v.toFixed(2).padStart(8) }));
  }
  out.push('');
  out.push(`compiled in ${r.timing.compileMs.toFixed(1)} ms (planning, pipelines, the driver's shader compilation)`);
  out.push(`trained in ${r.timing.ms.toFixed(1)} ms (${(1000 * r.timing.msPerEpoch).toFixed(1)} µs/epoch, ${r.timing.dispatchesPerEpoch.toPrecision(3)} dispatches/epoch, ${r.timing.submits} submit${r.timing.submits === 1 ? '' : 's'})${exploded ? '' : `; final training loss ${f(r.finalLoss, 0).trim()}${unit}`}`);
  return out;
}

function report(r: FitResult, { dropped, droppedAt, skipped }: Selection, logEvery: number, file: string): string {
  const out: string[] = [];
  out.push(`fusegrad fit: ${r.targets.join(', ')} ~ ${r.features.join(' + ')} from ${file}`);
  out.push(`${r.n} training rows${r.validRows ? `, ${r.validRows} validation rows` : ''}${dropped ? `; dropped ${dropped} row${dropped > 1 ? 's' : ''} with a missing value (${droppedAt.join(', ')}${dropped > droppedAt.length ? ', ...' : ''})` : ''}`);
  if (skipped.length) out.push(`features: every numeric column but the target; not numeric, left out: ${skipped.join(', ')}`);
  const hyper = Object.entries(r.optimizer.hyper).filter(([k, v]) => k === 'lr' || v !== 0).map(([k, v]) => `${k} ${v}`).join(', ');
  out.push(`${r.device.backend} (${r.device.adapter}), ${r.device.plan} plan; ${r.optimizer.name} (${hyper}), ${r.epochs} epochs${r.scaling ? ', standardized' : ''}`);
  out.push('');
  // A diverged model's coefficients are no estimate of anything: no final loss, no coefficients
  // (in a sweep, the first setting's model is the one the table would show).
  const exploded = r.diverged !== undefined || Boolean(r.sweep?.[0]?.diverged);
  out.push(...trainingLines(r, exploded, logEvery));
  out.push('');
  if (r.diverged) return out.join('\n').trimEnd();
  const w = Math.max(12, ...r.features.map((x) => x.length + 2));
  const head = `${'coefficient'.padEnd(w)}${'gradient descent'.padStart(18)}${'closed form'.padStart(14)}${'std err'.padStart(12)}${'95% interval'.padStart(26)}${r.scaling ? 'standardized'.padStart(15) : ''}`;
  r.targets.forEach((target, t) => {
    const cf = r.closedForm[t]!;
    out.push(`${target}`, head);
    const terms = ['const', ...r.features];
    terms.forEach((term, j) => {
      const gd = j === 0 ? r.coefficients.bias[t]! : r.coefficients.weight[t]![j - 1]!;
      const z = j === 0 ? r.params.bias[t]! : r.params.weight[t]![j - 1]!;
      const ci = `[${f(cf.ci95[j]![0], 0).trim()}, ${f(cf.ci95[j]![1], 0).trim()}]`;
      const none = 'diverged';
      out.push(`${term.padEnd(w)}${exploded ? none.padStart(18) : f(gd, 18)}${f(cf.coef[j]!, 14)}${f(cf.se[j]!)}${ci.padStart(26)}${r.scaling ? (exploded ? none.padStart(15) : f(z, 15)) : ''}`);
    });
    out.push(`R² ${cf.r2.toFixed(4)}, residual std. error ${cf.sigma.toPrecision(5)}, condition number ${cf.cond.toPrecision(3)}${cf.cond > LARGE_CONDITION ? ' (large: nearly collinear columns)' : ''}`, '');
    if (r.bootstrap && r.bootstrap.diverged === r.bootstrap.replicates) {
      out.push(`bootstrap: every one of the ${r.bootstrap.replicates} replicates diverged; no bootstrap estimate`, '');
    } else if (r.bootstrap) {
      const bs = r.bootstrap;
      const what = bs.method === 'residuals' ? 'residual resamples (x fixed, y = fit + resampled residuals)' : 'resamples of the rows';
      out.push(`bootstrap: ${bs.replicates} ${what} trained together${bs.diverged ? ` (${bs.diverged} diverged, left out)` : ''}`);
      out.push(`${'coefficient'.padEnd(w)}${'closed form'.padStart(14)}${'std err'.padStart(12)}${'bootstrap mean'.padStart(16)}${'bootstrap se'.padStart(14)}${'percentile 95% interval'.padStart(28)}`);
      terms.forEach((term, j) => {
        const pick = <T>(x: { weight: T[][]; bias: T[] }) => (j === 0 ? x.bias[t]! : x.weight[t]![j - 1]!);
        const [lo, hi] = pick(bs.ci95);
        out.push(`${term.padEnd(w)}${f(cf.coef[j]!, 14)}${f(cf.se[j]!)}${f(pick(bs.mean), 16)}${f(pick(bs.se), 14)}${`[${f(lo, 0).trim()}, ${f(hi, 0).trim()}]`.padStart(28)}`);
      });
      out.push('');
    }
  });
  if (r.sweep) {
    const valid = r.sweep[0]!.finalValidLoss !== undefined;
    const others = (['momentum', 'weightDecay'] as const).filter((name) => r.sweep![0]![name] !== undefined);
    const title = others.length ? 'sweep (one model per setting, trained together):' : 'learning-rate sweep (one model per rate, trained together):';
    const heads = { momentum: 'momentum', weightDecay: 'weight decay' };
    out.push(title, `${'lr'.padStart(12)}${others.map((name) => heads[name].padStart(14)).join('')}${'final loss'.padStart(16)}${valid ? 'validation loss'.padStart(18) : ''}  status`);
    for (const s of r.sweep) {
      out.push(`${String(s.lr).padStart(12)}${others.map((name) => String(s[name]).padStart(14)).join('')}${f(s.finalLoss, 16)}${valid ? f(s.finalValidLoss!, 18) : ''}  ${s.diverged ? `diverged: ${s.diverged}` : 'ok'}`);
    }
  }
  return out.join('\n').trimEnd();
}

/** Charts of each coefficient's bootstrap distribution against the closed form's normal approximation. */
function bootstrapCharts(r: FitResult, bs: NonNullable<FitResult['bootstrap']>): string[] {
  const charts: string[] = [];
  r.targets.forEach((target, t) => {
    const cf = r.closedForm[t]!;
    ['const', ...r.features].forEach((term, j) => {
      const draws = j === 0 ? bs.draws.bias[t]! : bs.draws.weight[t]![j - 1]!;
      const [lo, hi] = j === 0 ? bs.ci95.bias[t]! : bs.ci95.weight[t]![j - 1]!;
      const bars = histogram(draws);
      const [mu, se] = [cf.coef[j]!, cf.se[j]!];
      const peak = Math.max(...bars.map((p) => p[1]), 1 / (se * Math.sqrt(2 * Math.PI)));
      const span = [Math.min(bars[0]![0], mu - 4 * se), Math.max(bars.at(-1)![0], mu + 4 * se)] as const;
      const normal = normalCurve(mu, se, span[0], span[1]);
      const series: Series[] = [
        { name: `${bs.replicates - bs.diverged} bootstrap replicates (${bs.method})`, style: 'line', color: '#1f77b4', points: bars },
        { name: 'closed form: normal(coef, std err)', style: 'dashed', color: '#2ca02c', points: normal },
        { name: 'percentile 95% interval', style: 'dashed', color: '#d62728', points: [[lo, 0], [lo, peak]] },
        { name: '', style: 'dashed', color: '#d62728', points: [[hi, 0], [hi, peak]] },
      ];
      charts.push(svgChart(series, { title: `Bootstrap distribution of ${term}${r.targets.length > 1 ? ` (${target})` : ''}`, xLabel: term, yLabel: 'density' }));
    });
  });
  return charts;
}

async function writePlot(file: string, r: FitResult, X: number[][], Y: number[][]): Promise<void> {
  const curve = (loss: number[]) => loss.map((v, i) => [i + 1, v] as [number, number]);
  const curves: Series[] = r.sweep
    ? r.sweep.flatMap((s, i) => {
        const color = PALETTE[i % PALETTE.length]!;
        const setting = [`lr ${s.lr}`, ...(s.momentum !== undefined ? [`momentum ${s.momentum}`] : []), ...(s.weightDecay !== undefined ? [`weight decay ${s.weightDecay}`] : [])].join(', ');
        const training: Series = { name: `${setting}${s.diverged ? ' (diverged)' : ''}`, style: 'line', color, points: curve(s.loss) };
        return s.validLoss ? [training, { name: `${setting}, validation`, style: 'dashed', color, points: curve(s.validLoss) } as Series] : [training];
      })
    : [{ name: 'training loss', style: 'line', points: curve(r.history.loss) }];
  if (r.history.validLoss && !r.sweep) curves.push({ name: 'validation loss', style: 'line', points: r.history.validLoss.map((v, i) => [i + 1, v]) });
  const charts = [svgChart(curves, { title: `Loss by epoch (${r.optimizer.name}${r.sweep ? ', a sweep' : `, lr ${r.optimizer.hyper.lr}`})`, xLabel: 'epoch', yLabel: 'mean squared error', logY: true })];
  if (X[0]!.length === 1) {
    const xs = X.map((row) => row[0]!);
    const [lo, hi] = extent(xs);
    const grid = Array.from({ length: 200 }, (_, i) => lo + ((hi - lo) * i) / 199);
    const line = (coef: (x: number) => number) => grid.map((x) => [x, coef(x)] as [number, number]);
    const name = r.poly ? r.poly.column : r.features[0]!;
    const evalPoly = (w: number[], b: number) => (x: number) => w.reduce((s, wi, j) => s + wi * x ** (r.poly ? j + 1 : 1), b);
    const series: Series[] = [{ name: 'data', style: 'dots', points: xs.map((x, i) => [x, Y[i]![0]!]) }];
    const cf = r.closedForm[0]!;
    series.push({ name: 'closed form', style: 'line', color: '#2ca02c', points: line(evalPoly(cf.coef.slice(1), cf.coef[0]!)) });
    // A diverged model's line would only stretch the axis past the data.
    if (!r.diverged && !r.sweep?.[0]?.diverged) series.push({ name: 'gradient descent', style: 'dashed', color: '#d62728', points: line(evalPoly(r.coefficients.weight[0]!, r.coefficients.bias[0]!)) });
    charts.push(svgChart(series, { title: `${r.targets[0]} against ${name}`, xLabel: name, yLabel: r.targets[0]! }));
  }
  if (r.bootstrap && r.bootstrap.diverged < r.bootstrap.replicates) charts.push(...bootstrapCharts(r, r.bootstrap));
  await writeSvg(file, stack(charts));
}

/** --plot: the SVG, or a PNG drawn from it for a name ending in .png. */
async function writeSvg(file: string, svg: string): Promise<void> {
  await writeOutput('plot', file, /\.png$/i.test(file) ? await svgToPng(svg) : svg);
}
