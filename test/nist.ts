/**
 * @file Reads NIST StRD linear least-squares files (test/data/nist, as NIST publishes them): the
 * data, the model's design and the certified values, all from the file itself.
 */
import { readFileSync } from 'node:fs';

export interface NistSet {
  name: string;
  /** Predictor rows as the file gives them (before any powers), and the response. */
  X: number[][];
  y: number[];
  /** The data header's names: the response first, then the predictors. */
  columns: string[];
  intercept: boolean;
  /** The polynomial degree in the single predictor; 1 for a straight line or several predictors. */
  degree: number;
  certified: { coef: number[]; se: number[]; sigma: number; r2: number };
  /** What the header says of the file itself: the observations, and the lines the data fill. */
  header: { observations: number; dataLines: [number, number] };
  /** The 1-based line numbers of the first and last data rows found. */
  dataLines: [number, number];
}

export const NIST_SETS = ['Norris', 'Pontius', 'NoInt1', 'NoInt2', 'Filip', 'Longley', 'Wampler1', 'Wampler2', 'Wampler3', 'Wampler4', 'Wampler5'];

export function readNist(path: string): NistSet {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  const text = lines.join('\n');
  const find = (re: RegExp, what: string) => {
    const m = re.exec(text);
    if (!m) throw new Error(`${path}: no ${what} (${re})`);
    return m;
  };
  const name = find(/Dataset Name:\s+(\S+)/, 'dataset name')[1]!;
  const observations = Number(find(/(\d+) Observations/, 'observation count')[1]);
  const declared = find(/Data\s+\(lines (\d+) to (\d+)\)/, 'data line range');
  // Certified estimates: "B<k>  <estimate>  <standard deviation>" rows between the heading and "Residual".
  const start = lines.findIndex((l) => l.includes('Certified Regression Statistics'));
  const end = lines.findIndex((l, i) => i > start && /^\s*Residual\s*$/.test(l));
  if (start < 0 || end < 0) throw new Error(`${path}: no certified regression statistics`);
  const estimates = lines.slice(start, end).flatMap((l) => {
    const m = /^\s*B\d+\s+(\S+)\s+(\S+)\s*$/.exec(l);
    return m ? [[Number(m[1]), Number(m[2])] as const] : [];
  });
  const sigma = Number(/Standard Deviation\s+(\S+)/.exec(lines[end + 1]!)?.[1]);
  const r2 = Number(find(/R-Squared\s+(\S+)/, 'R-Squared')[1]);
  // The data follow the file's last "Data:" line, which names the columns.
  const at = lines.map((l) => l.startsWith('Data:')).lastIndexOf(true);
  const columns = lines[at]!.slice('Data:'.length).trim().split(/\s+/);
  const rows: number[][] = [];
  let first = 0;
  let last = 0;
  lines.forEach((l, i) => {
    if (i <= at || !l.trim()) return;
    rows.push(l.trim().split(/\s+/).map(Number));
    first ||= i + 1;
    last = i + 1;
  });
  const values = [...estimates.flat(), sigma, r2, ...rows.flat()];
  if (values.some((v) => !Number.isFinite(v)) || rows.some((r) => r.length !== columns.length)) throw new Error(`${path}: a value that is not a number, or a row that is not ${columns.length} wide`);
  // The model line ("y = B0 + B1*x + ..."): an intercept when B0 is in it. With one predictor and
  // more estimates than predictor and intercept, the terms are its powers (Pontius, Filip, Wampler).
  const model = find(/^\s*y = (.*)$/m, 'model')[1]!;
  const intercept = /\bB0\b/.test(model);
  const predictors = columns.length - 1;
  const degree = predictors === 1 ? estimates.length - (intercept ? 1 : 0) : 1;
  if (predictors > 1 && estimates.length !== predictors + (intercept ? 1 : 0)) throw new Error(`${path}: ${estimates.length} estimates for ${predictors} predictors`);
  return {
    name,
    X: rows.map((r) => r.slice(1)),
    y: rows.map((r) => r[0]!),
    columns,
    intercept,
    degree,
    certified: { coef: estimates.map((e) => e[0]), se: estimates.map((e) => e[1]), sigma, r2 },
    header: { observations, dataLines: [Number(declared[1]), Number(declared[2])] },
    dataLines: [first, last],
  };
}

/**
 * The log relative error, NIST's measure of correct digits: -log10(|got - c| / |c|), or
 * -log10(|got|) where the certified c is 0. Capped at 15: the certified values have 15
 * significant digits, so past that it measures their rounding, not ours.
 */
export function lre(got: number, certified: number): number {
  const err = certified === 0 ? Math.abs(got) : Math.abs(got - certified) / Math.abs(certified);
  return Math.min(15, -Math.log10(err));
}
