/** @file `fusegrad predict <model.json> <file>`: predictions of a saved model for new rows, as CSV (or JSON). */
import { readFileSync } from 'node:fs';
import Papa from 'papaparse';
import { InputError, notNumeric, numeric } from '../regression/data.js';
import type { SavedModel } from '../regression/fit.js';
import { readData } from './fit.js';

export const PREDICT_HELP = `fusegrad predict <model.json> <file.csv|file.json> [--json]

Reads a model saved by fusegrad fit --save and prints, for every row of the file, its input
columns and the prediction of each target (CSV on stdout, or a JSON array with --json). Rows with
a missing input value get an empty prediction. The model file is checked first: its format, its
fields, the shapes of weight and bias, and that every coefficient is a finite number.
`;

export const PREDICT_OPTIONS = { json: { type: 'boolean' } } as const;

/**
 * A model file as `fit --save` writes it, checked field by field: a file edited by hand, cut short
 * or from elsewhere is refused with what is wrong, instead of a TypeError or NaN predictions.
 */
export function checkModel(file: string, m: unknown): SavedModel {
  const bad = (what: string) => new InputError(`${file}: ${what}`);
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw bad(`expected a JSON object saved by fusegrad fit --save, got ${Array.isArray(m) ? 'an array' : JSON.stringify(m)}`);
  const o = m as Record<string, unknown>;
  if (o.format !== 'fusegrad-linear-1') throw bad(`not a model saved by fusegrad fit --save (format ${JSON.stringify(o.format)}, expected "fusegrad-linear-1")`);
  const names = (field: string): string[] => {
    const v = o[field];
    if (!Array.isArray(v) || !v.length || v.some((s) => typeof s !== 'string' || !s)) throw bad(`"${field}" must be a non-empty list of column names, got ${JSON.stringify(v)}`);
    return v as string[];
  };
  const inputs = names('inputs');
  const features = names('features');
  const targets = names('targets');
  const number = (v: unknown, where: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${where} is ${JSON.stringify(v) ?? String(v)}, not a finite number`);
    return v;
  };
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

export async function predict(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<string> {
  if (positionals.length !== 2) throw new InputError(`predict takes a model file and a data file, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [modelFile, dataFile] = positionals as [string, string];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(modelFile, 'utf8'));
  } catch (err) {
    throw new InputError(`${modelFile}: cannot read the model (${(err as Error).message})`);
  }
  const m = checkModel(modelFile, parsed);
  const table = readData(dataFile);
  const cols = m.inputs.map((name) => {
    const i = table.columns.indexOf(name);
    if (i < 0) throw new InputError(`${dataFile}: the model reads column "${name}", which the file does not have (it has ${table.columns.join(', ')})`);
    return i;
  });
  const rows = table.rows.map((r, row) => {
    const xs = cols.map((i) => {
      const v = numeric(r[i]!);
      if (v === undefined) throw new InputError(`${dataFile}: column "${table.columns[i]}" ${notNumeric(r[i]!)}: ${table.where(row)} has ${JSON.stringify(r[i])}`);
      return v;
    });
    const record: Record<string, number | null> = Object.fromEntries(m.inputs.map((name, j) => [name, xs[j]!]));
    const feats = xs.some((v) => v === null) ? null : m.poly ? Array.from({ length: m.poly.degree }, (_, p) => xs[0]! ** (p + 1)) : (xs as number[]);
    m.targets.forEach((t, k) => {
      const y = feats ? feats.reduce((s, v, j) => s + m.weight[k]![j]! * v, m.bias[k]!) : null;
      // Finite inputs and coefficients can still overflow: say so rather than print Infinity or NaN.
      if (y !== null && !Number.isFinite(y)) throw new InputError(`${dataFile}: the prediction of ${t} at ${table.where(row)} overflows float64 (${y}); its inputs are too large for this model`);
      record[`predicted_${t}`] = y;
    });
    return record;
  });
  if (values.json === true) return JSON.stringify(rows);
  return Papa.unparse(rows, { newline: '\n' });
}
