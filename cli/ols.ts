/** @file `fusegrad ols`: the closed-form least-squares fit with its statistics, as statsmodels or R's lm() print it. */
import { type Table, InputError, notNumeric, numeric, selectColumns } from '../regression/data.js';
import { polynomial } from '../regression/features.js';
import { formatOls, ols } from '../regression/ols.js';
import { intOption } from './args.js';
import { stage } from './child.js';
import { readData } from './fit.js';

export const OLS_HELP = `fusegrad ols <file.csv|file.json> --y <column> [options]

Ordinary least squares in float64 (QR of the column-scaled design, iterative refinement with
double-double residuals): coefficients, standard errors, t, p-values, 95% intervals (t
distribution), R², adjusted R², F, the residual standard error, the condition number before and
after scaling, the refinement's steps and an estimate of the correct digits.

Options:
  --y <col>          the column to predict
  --x <cols>         feature columns (default: every other numeric column; a column of text is
                     left out with a note, one of numbers with a few bad cells is an error naming them)
  --poly <degree>    polynomial terms x, x^2, ... of a single --x column (degree up to 12)
  --no-intercept     regression through the origin (R² then uses the uncentered total sum of squares)
  --json             one JSON object on stdout
`;

export const OLS_OPTIONS = {
  y: { type: 'string' },
  x: { type: 'string' },
  poly: { type: 'string' },
  'no-intercept': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export async function olsCommand(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<string> {
  if (positionals.length > 1) throw new InputError(`ols takes one data file, got ${positionals.length}: ${positionals.join(' ')}`);
  stage('reading the data');
  const table = readData(positionals[0]);
  const y = typeof values.y === 'string' ? values.y.split(',').map((s) => s.trim()).filter(Boolean) : [];
  if (y.length > 1) throw new InputError(`--y: ols fits one target, got ${y.length} (${y.join(', ')})`);
  const x = typeof values.x === 'string' ? values.x.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const defaults = x ? null : defaultFeatures(table, y);
  const sel = selectColumns(table, y, x ?? defaults!.features);
  let { X, features } = sel;
  let low: number[][] | undefined;
  // Polynomial terms come with what rounding them left out, so ols solves for the exact powers.
  if (values.poly !== undefined) ({ X, features, low } = polynomial(X, features, intOption(values, 'poly', 1, 1)));
  stage(`solving least squares (${X.length} rows, ${features.length} columns)`);
  const r = ols(X, sel.Y.map((row) => row[0]!), features, { intercept: values['no-intercept'] !== true, low, target: sel.targets[0]! });
  if (values.json === true) {
    const { n, df, terms, coef, se, t, p, ci95, r2, adjR2, fStat, fPValue, sigma, cond, condUnscaled, refinement, digits, perfectFit, notes } = r;
    const leftOut = defaults?.leftOut ?? [];
    return JSON.stringify({ n, df, terms, coef, se, t, p, ci95, r2, adjR2, fStat, fPValue, sigma, cond, condUnscaled, refinement, digits, intercept: r.intercept, perfectFit, notes, dropped: sel.dropped, leftOut });
  }
  const leftOut = defaults?.leftOut.length ? `features: every numeric column but the target; left out as text: ${defaults.leftOut.map((c) => `${c.column} (${c.example})`).join(', ')}\n` : '';
  const note = sel.dropped ? `dropped ${sel.dropped} row${sel.dropped > 1 ? 's' : ''} with a missing value (${sel.droppedAt.join(', ')}${sel.dropped > sel.droppedAt.length ? ', ...' : ''})\n` : '';
  return `${leftOut}${note}${formatOls(r, sel.targets[0]!)}`;
}

/** How many of a column's bad cells a message lists. */
const SHOWN = 5;

/**
 * The default features: every column but the target whose cells are numbers (or missing). A
 * column that is mostly text (no more numbers than other cells) is left out and reported with
 * its first cell, as `fit` reports it. A column that is mostly numbers but for a few cells
 * ("1.2.3", "1,200") is an error naming those cells: leaving it out would change the model
 * (y ~ a where y ~ a + b was meant) with nothing on the screen but a smaller R².
 */
function defaultFeatures(t: Table, targets: string[]): { features: string[]; leftOut: { column: string; example: string }[] } {
  const features: string[] = [];
  const leftOut: { column: string; example: string }[] = [];
  t.columns.forEach((name, col) => {
    if (targets.includes(name)) return;
    const bad: number[] = [];
    let numbers = 0;
    t.rows.forEach((r, row) => {
      const v = numeric(r[col]!);
      if (v === undefined) bad.push(row);
      else if (v !== null) numbers++;
    });
    const show = (row: number) => `${t.where(row)} has ${JSON.stringify(t.rows[row]![col])}`;
    if (!bad.length) features.push(name);
    else if (numbers <= bad.length) leftOut.push({ column: name, example: show(bad[0]!) });
    else {
      const cells = bad.slice(0, SHOWN).map((row) => `${show(row)} (${notNumeric(t.rows[row]![col]!).replace(/^is /, '')})`);
      throw new InputError(
        `${t.file}: column "${name}" is numbers but for ${bad.length} cell${bad.length > 1 ? 's' : ''} of ${numbers + bad.length}: ${cells.join('; ')}${bad.length > SHOWN ? '; ...' : ''}. Fix ${bad.length > 1 ? 'them' : 'it'} (or make ${bad.length > 1 ? 'them' : 'it'} empty, a missing value), or name the features with --x to leave "${name}" out`,
      );
    }
  });
  return { features, leftOut };
}
