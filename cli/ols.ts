/** @file `fusegrad ols`: the closed-form least-squares fit with its statistics, as statsmodels or R's lm() print it. */
import { InputError, selectColumns } from '../regression/data.js';
import { polynomial } from '../regression/features.js';
import { formatOls, ols } from '../regression/ols.js';
import { intOption } from './args.js';
import { readData } from './fit.js';

export const OLS_HELP = `fusegrad ols <file.csv|file.json> --y <column> [options]

Ordinary least squares in float64 (QR of the column-scaled design, iterative refinement with
double-double residuals): coefficients, standard errors, t, p-values, 95% intervals (t
distribution), R², adjusted R², F, the residual standard error, the condition number before and
after scaling, the refinement's steps and an estimate of the correct digits.

Options:
  --y <col>          the column to predict
  --x <cols>         feature columns (default: every other numeric column)
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
  const table = readData(positionals[0]);
  const y = typeof values.y === 'string' ? values.y.split(',').map((s) => s.trim()).filter(Boolean) : [];
  if (y.length > 1) throw new InputError(`--y: ols fits one target, got ${y.length} (${y.join(', ')})`);
  const x = typeof values.x === 'string' ? values.x.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const sel = selectColumns(table, y, x);
  let { X, features } = sel;
  let low: number[][] | undefined;
  // Polynomial terms come with what rounding them left out, so ols solves for the exact powers.
  if (values.poly !== undefined) ({ X, features, low } = polynomial(X, features, intOption(values, 'poly', 1, 1)));
  const r = ols(X, sel.Y.map((row) => row[0]!), features, { intercept: values['no-intercept'] !== true, low });
  if (values.json === true) {
    const { n, df, terms, coef, se, t, p, ci95, r2, adjR2, fStat, fPValue, sigma, cond, condUnscaled, refinement, digits } = r;
    return JSON.stringify({ n, df, terms, coef, se, t, p, ci95, r2, adjR2, fStat, fPValue, sigma, cond, condUnscaled, refinement, digits, intercept: r.intercept, dropped: sel.dropped });
  }
  const note = sel.dropped ? `dropped ${sel.dropped} row${sel.dropped > 1 ? 's' : ''} with a missing value (${sel.droppedAt.join(', ')}${sel.dropped > sel.droppedAt.length ? ', ...' : ''})\n` : '';
  return `${note}${formatOls(r, sel.targets[0]!)}`;
}
