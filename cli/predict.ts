/** @file `fusegrad predict <model.json> <file>`: predictions of a saved model for new rows, as CSV (or JSON). */
import { readFileSync } from 'node:fs';
import Papa from 'papaparse';
import { InputError, numeric } from '../regression/data.js';
import type { SavedModel } from '../regression/fit.js';
import { readData } from './fit.js';

export const PREDICT_HELP = `fusegrad predict <model.json> <file.csv|file.json> [--json]

Reads a model saved by fusegrad fit --save and prints, for every row of the file, its input
columns and the prediction of each target (CSV on stdout, or a JSON array with --json). Rows with
a missing input value get an empty prediction.
`;

export const PREDICT_OPTIONS = { json: { type: 'boolean' } } as const;

export async function predict(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<string> {
  if (positionals.length !== 2) throw new InputError(`predict takes a model file and a data file, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [modelFile, dataFile] = positionals as [string, string];
  let m: SavedModel;
  try {
    m = JSON.parse(readFileSync(modelFile, 'utf8'));
  } catch (err) {
    throw new InputError(`${modelFile}: cannot read the model (${(err as Error).message})`);
  }
  if (m?.format !== 'fusegrad-linear-1') throw new InputError(`${modelFile}: not a model saved by fusegrad fit --save (format ${JSON.stringify(m?.format)})`);
  const table = readData(dataFile);
  const cols = m.inputs.map((name) => {
    const i = table.columns.indexOf(name);
    if (i < 0) throw new InputError(`${dataFile}: the model reads column "${name}", which the file does not have (it has ${table.columns.join(', ')})`);
    return i;
  });
  const rows = table.rows.map((r, row) => {
    const xs = cols.map((i) => {
      const v = numeric(r[i]!);
      if (v === undefined) throw new InputError(`${dataFile}: column "${table.columns[i]}" is not numeric: ${table.where(row)} has ${JSON.stringify(r[i])}`);
      return v;
    });
    const record: Record<string, number | null> = Object.fromEntries(m.inputs.map((name, j) => [name, xs[j]!]));
    const feats = xs.some((v) => v === null) ? null : m.poly ? Array.from({ length: m.poly.degree }, (_, p) => xs[0]! ** (p + 1)) : (xs as number[]);
    m.targets.forEach((t, k) => {
      record[`predicted_${t}`] = feats ? feats.reduce((s, v, j) => s + m.weight[k]![j]! * v, m.bias[k]!) : null;
    });
    return record;
  });
  if (values.json === true) return JSON.stringify(rows);
  return Papa.unparse(rows, { newline: '\n' });
}
