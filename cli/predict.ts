/** @file `fusegrad predict <model.json> <file>`: predictions of a saved model for new rows, as CSV (or JSON). */
import { readFileSync } from 'node:fs';
import Papa from 'papaparse';
import { InputError, notNumeric, numeric } from '../regression/data.js';
import { UsageError } from './args.js';
import type { SavedModel } from '../regression/fit.js';
import { ACTIVATIONS, type Activation, type Layer, type SavedNetwork, predictNetwork } from '../regression/network.js';
import { openData } from '../regression/datafile.js';
import { stage } from './child.js';

export const PREDICT_HELP = `fusegrad predict <model.json> <file.csv|file.json> [--json]

Reads a model saved by fusegrad fit --save (a linear model, or a network saved with --hidden)
and prints, for every row of the file, its input columns and the prediction of each target,
predicted_<target> (CSV on stdout, or a JSON array with --json). Rows with a missing input value
get an empty prediction. The model file is checked first: its format, its fields, the shapes of
weight and bias (of every layer and the scaling, for a network), and that every coefficient is a
finite number. Rows stream: a piece is read, predicted and written at a time, so a bad row
found mid-file stops the command (exit 2) after the rows before it were written. A prediction
whose name an input column has is called predicted_<target>_1.
`;

export const PREDICT_OPTIONS = { json: { type: 'boolean' } } as const;

/** The file's number literals past float64's range with the sign of `v` (the literal itself when one; JSON.parse keeps no source text). */
function outOfRange(text: string, v: number): string {
  const found = [...new Set(text.match(/(?<![\w."])-?\d+(\.\d*)?([eE][+-]?\d+)?/g) ?? [])].filter((lit) => Number(lit) === v);
  return found.length === 1 ? found[0]! : found.length ? `one of ${found.join(', ')}` : String(v);
}

/** The checks a model file's fields get: each refusal names the file and the field. */
function fields(file: string, o: Record<string, unknown>, text: string) {
  const bad = (what: string) => new InputError(`${file}: ${what}`);
  const names = (field: string): string[] => {
    const v = o[field];
    if (!Array.isArray(v) || !v.length || v.some((s) => typeof s !== 'string' || !s)) throw bad(`"${field}" must be a non-empty list of column names, got ${JSON.stringify(v)}`);
    return v as string[];
  };
  const number = (v: unknown, where: string): number => {
    // JSON.parse reads a number past float64's range as Infinity; name it as the file writes it.
    if (v === Infinity || v === -Infinity) throw bad(`${where} is ${outOfRange(text, v)}, which is beyond the range of a float64 (±${Number.MAX_VALUE.toPrecision(3)})`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${where} is ${JSON.stringify(v) ?? String(v)}, not a finite number`);
    return v;
  };
  /** A list of `length` finite numbers (each over `min` when given). */
  const numbers = (v: unknown, length: number, where: string, min?: number): number[] => {
    if (!Array.isArray(v) || v.length !== length) throw bad(`${where} must be a list of ${length} numbers, got ${Array.isArray(v) ? `${v.length}` : JSON.stringify(v)}`);
    return v.map((x, i) => {
      const n = number(x, `${where}[${i}]`);
      if (min !== undefined && !(n > min)) throw bad(`${where}[${i}] is ${n}; it must be over ${min}`);
      return n;
    });
  };
  return { bad, names, number, numbers };
}

const FORMATS = '"fusegrad-linear-1" (fit --save) or "fusegrad-network-1" (fit --hidden --save)';

/**
 * A model file as `fit --save` writes it, checked field by field: a file edited by hand, cut short
 * or from elsewhere is refused with what is wrong, instead of a TypeError or NaN predictions.
 */
export function checkModel(file: string, m: unknown, text = ''): SavedModel | SavedNetwork {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new InputError(`${file}: expected a JSON object saved by fusegrad fit --save, got ${Array.isArray(m) ? 'an array' : JSON.stringify(m)}`);
  const o = m as Record<string, unknown>;
  if (o.format === 'fusegrad-network-1') return checkNetwork(file, o, text);
  const { bad, names, number } = fields(file, o, text);
  if (o.format !== 'fusegrad-linear-1') throw bad(`not a model saved by fusegrad fit --save (format ${JSON.stringify(o.format)}, expected ${FORMATS})`);
  const inputs = names('inputs');
  const features = names('features');
  const targets = names('targets');
  let poly: SavedModel['poly'];
  if (o.poly !== undefined) {
    const p = o.poly as Record<string, unknown> | null;
    if (p === null || typeof p !== 'object' || typeof p.column !== 'string' || !Number.isInteger(p.degree) || (p.degree as number) < 1) {
      throw bad(`"poly" must be {"column": name, "degree": integer >= 1}, got ${JSON.stringify(o.poly)}`);
    }
    poly = { column: p.column, degree: p.degree as number };
    if (inputs.length !== 1 || inputs[0] !== poly.column) throw bad(`a polynomial model reads one input, its column "${poly.column}"; "inputs" is ${JSON.stringify(inputs)}`);
    if (features.length !== poly.degree) throw bad(`a polynomial of degree ${poly.degree} has ${poly.degree} features, "features" has ${features.length}`);
  } else if (inputs.length !== features.length) {
    throw bad(`"inputs" has ${inputs.length} columns and "features" ${features.length}; without "poly" they are the same columns`);
  }
  const k = targets.length;
  const d = features.length;
  const { weight, bias } = o;
  if (!Array.isArray(weight) || weight.length !== k) throw bad(`"weight" must have one row per target (${k}: ${targets.join(', ')}), got ${Array.isArray(weight) ? `${weight.length} rows` : JSON.stringify(weight)}`);
  weight.forEach((row, t) => {
    if (!Array.isArray(row) || row.length !== d) throw bad(`"weight" row ${t} (${targets[t]}) must have one coefficient per feature (${d}: ${features.join(', ')}), got ${Array.isArray(row) ? row.length : JSON.stringify(row)}`);
    row.forEach((v, j) => number(v, `"weight" row ${t} (${targets[t]}), feature ${j} (${features[j]})`));
  });
  if (!Array.isArray(bias) || bias.length !== k) throw bad(`"bias" must have one value per target (${k}: ${targets.join(', ')}), got ${Array.isArray(bias) ? `${bias.length} values` : JSON.stringify(bias)}`);
  bias.forEach((v, t) => number(v, `"bias" ${t} (${targets[t]})`));
  return { ...(o as unknown as SavedModel), inputs, features, targets, weight: weight as number[][], bias: bias as number[], ...(poly ? { poly } : {}) };
}

/** A network file as `fit --hidden --save` writes it, checked field by field as a linear model is. */
export function checkNetwork(file: string, o: Record<string, unknown>, text = ''): SavedNetwork {
  const { bad, names, numbers } = fields(file, o, text);
  const inputs = names('inputs');
  const targets = names('targets');
  const activation = o.activation as Activation;
  if (!ACTIVATIONS.includes(activation)) throw bad(`"activation" must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(o.activation)}`);
  const hidden = o.hidden;
  if (!Array.isArray(hidden) || !hidden.length || hidden.some((u) => !Number.isInteger(u) || u < 1)) throw bad(`"hidden" must be a non-empty list of unit counts, got ${JSON.stringify(hidden)}`);
  const sizes = [inputs.length, ...(hidden as number[]), targets.length];
  const sc = o.scaling as Record<string, Record<string, unknown>> | undefined;
  if (!sc || typeof sc !== 'object' || typeof sc.x !== 'object' || typeof sc.y !== 'object' || !sc.x || !sc.y) throw bad(`"scaling" must be {"x": {"mean": [...], "sd": [...]}, "y": {...}}, got ${JSON.stringify(o.scaling)}`);
  const scaling = {
    x: { mean: numbers(sc.x.mean, inputs.length, '"scaling.x.mean"'), sd: numbers(sc.x.sd, inputs.length, '"scaling.x.sd"', 0) },
    y: { mean: numbers(sc.y.mean, targets.length, '"scaling.y.mean"'), sd: numbers(sc.y.sd, targets.length, '"scaling.y.sd"', 0) },
  };
  const layers = o.layers;
  if (!Array.isArray(layers) || layers.length !== sizes.length - 1) throw bad(`"layers" must have ${sizes.length - 1} layers (${sizes.join(' -> ')}), got ${Array.isArray(layers) ? layers.length : JSON.stringify(layers)}`);
  const checked: Layer[] = layers.map((layer: Record<string, unknown> | null, l) => {
    const at = `"layers"[${l}]`;
    if (!layer || typeof layer !== 'object') throw bad(`${at} must be {"weight": [[...]], "bias": [...]}, got ${JSON.stringify(layer)}`);
    const w = layer.weight;
    if (!Array.isArray(w) || w.length !== sizes[l + 1]) throw bad(`${at}.weight must have ${sizes[l + 1]} rows (one per unit), got ${Array.isArray(w) ? w.length : JSON.stringify(w)}`);
    return { weight: w.map((row, u) => numbers(row, sizes[l]!, `${at}.weight[${u}]`)), bias: numbers(layer.bias, sizes[l + 1]!, `${at}.bias`) };
  });
  return { format: 'fusegrad-network-1', inputs, targets, hidden: hidden as number[], activation, scaling, layers: checked };
}

/** Reads a model file: UTF-8, with or without a byte-order mark (as data files are). */
function readModel(file: string): SavedModel | SavedNetwork {
  let text: string;
  let parsed: unknown;
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: cannot read the model (${(err as Error).message})`);
  }
  return checkModel(file, parsed, text);
}

/**
 * The output's name for each target's prediction: predicted_<target>, unless an input column
 * already has that name (a file that went through predict before); then predicted_<target>_1,
 * _2, ...: an input column is never overwritten.
 */
export function predictionNames(inputs: string[], targets: string[]): string[] {
  const taken = new Set(inputs);
  return targets.map((t) => {
    let name = `predicted_${t}`;
    for (let i = 1; taken.has(name); i++) name = `predicted_${t}_${i}`;
    taken.add(name);
    return name;
  });
}

/**
 * stdout as predict writes it, a piece at a time, waiting while a full pipe drains. A reader that
 * went away (`| head -1`, EPIPE) ends the run quietly, as it ends cat; `write` then returns false.
 * Any other failed write (a full disk) is an error that says so.
 */
function stdoutWriter(stream: NodeJS.WriteStream): (text: string) => Promise<boolean> {
  let closed = false;
  let failed: NodeJS.ErrnoException | null = null;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
    else failed = err;
  });
  const settled = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done).off('error', done).off('close', done);
        resolve();
      };
      stream.on('drain', done).on('error', done).on('close', done);
    });
  return async (text) => {
    if (!closed && !failed && !stream.write(text)) await settled();
    // A failed write is reported after write() returns: give it a turn to arrive.
    await new Promise(setImmediate);
    const err = failed as NodeJS.ErrnoException | null;
    if (err) throw new UsageError(`stdout: writing the predictions failed (${err.code ?? err.message})`);
    return !closed;
  };
}

/** A linear model's prediction of every target for one row of its inputs (their powers, for a polynomial). */
function linear(m: SavedModel): (xs: number[]) => number[] {
  return (xs) => {
    const feats = m.poly ? Array.from({ length: m.poly.degree }, (_, p) => xs[0]! ** (p + 1)) : xs;
    return m.targets.map((_, k) => feats.reduce((s, v, j) => s + m.weight[k]![j]! * v, m.bias[k]!));
  };
}

/**
 * Streams: rows are read, predicted and written a piece at a time (regression/datafile.ts), so
 * memory does not grow with the file. Writes to stdout itself and returns nothing.
 */
export async function predict(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<undefined> {
  if (positionals.length !== 2) throw new InputError(`predict takes a model file and a data file, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [modelFile, dataFile] = positionals as [string, string];
  const m = readModel(modelFile);
  const data = openData(dataFile);
  const cols = m.inputs.map((name) => {
    const i = data.columns.indexOf(name);
    if (i < 0) {
      data.close();
      throw new InputError(`${dataFile}: the model reads column "${name}", which the file does not have (it has ${data.columns.join(', ')})`);
    }
    return i;
  });
  const predictRow = m.format === 'fusegrad-network-1' ? (xs: number[]) => predictNetwork(m, xs) : linear(m);
  const names = predictionNames(m.inputs, m.targets);
  names.forEach((name, k) => {
    if (name !== `predicted_${m.targets[k]}`) process.stderr.write(`fusegrad predict: the model's input column "predicted_${m.targets[k]}" keeps its name; the prediction of ${m.targets[k]} is "${name}"\n`);
  });
  const fields = [...m.inputs, ...names];
  const json = values.json === true;
  // Every cell out is a number or empty, which needs no quoting: rows are joined here, and only
  // the header goes through papaparse (a column name may need quotes).
  const keys = fields.map((f) => `${JSON.stringify(f)}:`);
  const cell = json ? (v: number | null, j: number) => keys[j] + (v === null ? 'null' : String(v)) : (v: number | null) => (v === null ? '' : String(v));
  const write = stdoutWriter(process.stdout);
  let first = true;
  let done = 0;
  stage('predicting: 0 rows written');
  try {
    for (const piece of data.pieces) {
      const lines = piece.rows.map((r, row) => {
        const xs = cols.map((i) => {
          const v = numeric(r[i]!);
          if (v === undefined) throw new InputError(`${dataFile}: column "${data.columns[i]}" ${notNumeric(r[i]!)}: ${piece.where(row)} has ${JSON.stringify(r[i])}`);
          return v;
        });
        const ys = xs.some((v) => v === null) ? null : predictRow(xs as number[]);
        let line = xs.map(cell).join(',');
        m.targets.forEach((t, k) => {
          const y = ys ? ys[k]! : null;
          // Finite inputs and coefficients can still overflow: say so rather than print Infinity or NaN.
          if (y !== null && !Number.isFinite(y)) throw new InputError(`${dataFile}: the prediction of ${t} at ${piece.where(row)} overflows float64 (${y}); its inputs are too large for this model`);
          line += `,${cell(y, xs.length + k)}`;
        });
        return json ? `{${line}}` : line;
      });
      if (!lines.length) continue;
      const text = json ? `${first ? '[' : ','}${lines.join(',')}` : `${first ? `${Papa.unparse([fields], { newline: '\n' })}\n` : ''}${lines.join('\n')}\n`;
      first = false;
      if (!(await write(text))) {
        data.close();
        return undefined;
      }
      done += lines.length;
      stage(`predicting: ${done} rows written to stdout`);
    }
    if (json) await write(`${first ? '[' : ''}]\n`);
  } catch (err) {
    // Earlier pieces are out already: the message says so, for a reader of a partial output.
    if (err instanceof InputError && !first) err.message += '; the predictions of the rows before it were already written to stdout';
    data.close();
    throw err;
  }
  return undefined;
}
