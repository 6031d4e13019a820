/**
 * @file Reading a data set: CSV (through papaparse: quoted fields, UTF-8, a header row) or a JSON
 * array of records; picking numeric columns; dropping rows with missing values. Every problem is
 * an InputError that names the file, the column and the row.
 */
import Papa from 'papaparse';

/** Bad usage or bad data: the command prints the message and exits with code 2. */
export class InputError extends Error {
  override name = 'InputError';
}

export type Cell = string | number | boolean | null;

export interface Table {
  file: string;
  columns: string[];
  rows: Cell[][];
  /** How a row is referred to in messages: its line in a CSV file, its index in a JSON array. */
  where(row: number): string;
}

/** Cells that mean "no value". */
const MISSING = new Set(['', 'na', 'nan', 'null', 'none', '?', '.']);

export function parseTable(file: string, text: string): Table {
  const body = text.replace(/^\uFEFF/, '');
  if (!body.trim()) throw new InputError(`${file}: the file is empty`);
  if (/\.json$/i.test(file) || /^\s*\[/.test(body)) return parseJson(file, body);
  return parseCsv(file, body);
}

function parseCsv(file: string, text: string): Table {
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: 'greedy' });
  // A file of one column has no delimiter to detect; papaparse then uses ',' and says so, which is fine.
  const fatal = parsed.errors.find((e) => e.type === 'Quotes');
  if (fatal) throw new InputError(`${file}: line ${(fatal.row ?? 0) + 1}: ${fatal.message}`);
  const [header, ...rows] = parsed.data;
  if (!header || !header.length) throw new InputError(`${file}: no header row`);
  const columns = header.map((h) => h.trim());
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) throw new InputError(`${file}: the header names column "${dup}" twice`);
  rows.forEach((r, i) => {
    if (r.length !== columns.length) {
      throw new InputError(`${file}: line ${i + 2} has ${r.length} fields, the header has ${columns.length}`);
    }
  });
  if (!rows.length) throw new InputError(`${file}: the header has no data rows under it`);
  return { file, columns, rows, where: (r) => `line ${r + 2}` };
}

function parseJson(file: string, text: string): Table {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new InputError(`${file}: expected a JSON array of records (objects)`);
  if (!data.length) throw new InputError(`${file}: the array has no records`);
  const columns: string[] = [];
  data.forEach((rec, i) => {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new InputError(`${file}: record ${i} is not an object`);
    for (const k of Object.keys(rec)) if (!columns.includes(k)) columns.push(k);
  });
  // JSON.parse reads a number past float64's range (1e400) as Infinity: the cell keeps it, and
  // `numeric` refuses it as out of range rather than reading it as a missing value.
  const rows = data.map((rec: Record<string, unknown>) =>
    columns.map((c) => {
      const v = rec[c];
      return v === undefined || v === null ? null : typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : JSON.stringify(v);
    }),
  );
  // Records are counted from 1, as lines are, and as a person counts them.
  return { file, columns, rows, where: (r) => `record ${r + 1}` };
}

/**
 * A decimal number as people write one: an optional sign, digits with an optional point, an
 * optional exponent. JavaScript's Number() also reads "0x10" as 16, "0b11" as 3 and "0o17" as 15;
 * in a data file such a cell is far more likely an identifier or a mistake than a number.
 */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A cell as a number, null when missing, undefined when it is not a finite decimal number (see `notNumeric`). */
export function numeric(cell: Cell): number | null | undefined {
  if (cell === null) return null;
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : undefined;
  if (typeof cell === 'boolean') return undefined;
  const t = cell.trim();
  if (MISSING.has(t.toLowerCase())) return null;
  if (!DECIMAL.test(t)) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

/** Why a cell that `numeric` refused is not a number, for a message: "is not numeric" or "is beyond float64's range". */
export function notNumeric(cell: Cell): string {
  const t = typeof cell === 'string' ? cell.trim() : cell;
  if ((typeof t === 'number' && !Number.isNaN(t)) || (typeof t === 'string' && DECIMAL.test(t))) return `is beyond the range of a float64 (±${Number.MAX_VALUE.toPrecision(3)})`;
  if (typeof t === 'string' && /^[+-]?0[xXbBoO]/.test(t)) return 'is not a decimal number (hexadecimal, binary and octal are not read as numbers)';
  return 'is not numeric';
}

export interface Selection {
  /** Names of the x columns and y columns. */
  features: string[];
  targets: string[];
  /** Rows kept: x values and y values. */
  X: number[][];
  Y: number[][];
  /** Table row indices of the rows kept. */
  kept: number[];
  /** Columns left out of the default features because they are not numeric. */
  skipped: string[];
  /** How many rows were dropped for a missing value, and where the first ones were. */
  dropped: number;
  droppedAt: string[];
}

function columnIndex(t: Table, name: string, option: string): number {
  const i = t.columns.indexOf(name);
  if (i < 0) throw new InputError(`${t.file}: ${option} names column "${name}", which the file does not have (it has ${t.columns.join(', ')})`);
  return i;
}

/** Whether every non-missing cell of a column is a number. */
export function isNumericColumn(t: Table, col: number): boolean {
  return t.rows.every((r) => numeric(r[col]!) !== undefined);
}

/**
 * Picks the y columns and the x columns (default: every other numeric column), checks that their
 * cells are numbers, and drops rows with a missing value in any of them.
 */
export function selectColumns(t: Table, y: string[], x?: string[]): Selection {
  if (!y.length) throw new InputError('--y: name the column to predict');
  const yi = y.map((name) => columnIndex(t, name, '--y'));
  const others = t.columns.map((_, i) => i).filter((i) => !yi.includes(i));
  const xi = x ? x.map((name) => columnIndex(t, name, '--x')) : others.filter((i) => isNumericColumn(t, i));
  const skipped = x ? [] : others.filter((i) => !xi.includes(i)).map((i) => t.columns[i]!);
  if (!xi.length) throw new InputError(`${t.file}: no numeric column is left to predict ${y.join(', ')} from${skipped.length ? ` (not numeric: ${skipped.join(', ')})` : ''}; name them with --x`);
  const both = xi.find((i) => yi.includes(i));
  if (both !== undefined) throw new InputError(`column "${t.columns[both]}" is both a feature (--x) and a target (--y)`);
  for (const i of [...yi, ...xi]) {
    const bad = t.rows.findIndex((r) => numeric(r[i]!) === undefined);
    if (bad >= 0) {
      const cell = t.rows[bad]![i]!;
      const why = notNumeric(cell);
      const shown = typeof cell === 'number' && !Number.isFinite(cell) ? 'a number JSON read as Infinity' : JSON.stringify(cell);
      throw new InputError(why === 'is not numeric' ? `${t.file}: column "${t.columns[i]}" is not numeric: ${t.where(bad)} has ${shown}` : `${t.file}: column "${t.columns[i]}": ${t.where(bad)} has ${shown}, which ${why}`);
    }
  }
  const X: number[][] = [];
  const Y: number[][] = [];
  const kept: number[] = [];
  const droppedAt: string[] = [];
  let dropped = 0;
  t.rows.forEach((r, row) => {
    const xs = xi.map((i) => numeric(r[i]!));
    const ys = yi.map((i) => numeric(r[i]!));
    if ([...xs, ...ys].some((v) => v === null)) {
      dropped++;
      if (droppedAt.length < 5) droppedAt.push(t.where(row));
      return;
    }
    X.push(xs as number[]);
    Y.push(ys as number[]);
    kept.push(row);
  });
  if (!X.length) throw new InputError(`${t.file}: every row has a missing value in ${[...y, ...xi.map((i) => t.columns[i]!)].join(', ')}`);
  return { features: xi.map((i) => t.columns[i]!), targets: y, X, Y, kept, skipped, dropped, droppedAt };
}
