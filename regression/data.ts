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

/**
 * The longest string V8 makes (2²⁹ - 24 UTF-16 units, about 512 MiB; Node's
 * buffer.constants.MAX_STRING_LENGTH): a JSON file must fit in one, a CSV file is read in pieces.
 */
export const MAX_STRING = 2 ** 29 - 24;

/** Rows read from a part of a file, and how each is referred to in messages. */
export interface Piece {
  rows: Cell[][];
  where(row: number): string;
}

/** A data file's text, read whole (the browser's page, the examples, tests); files on disk go through datafile.ts. */
export function parseTable(file: string, text: string): Table {
  const body = text.replace(/^\uFEFF/, '');
  if (body.includes('\u0000')) throw new InputError(`${file}: the text has NUL characters: a UTF-16 file (save it as UTF-8) or not a text file at all`);
  if (isJson(file, body)) return parseJson(file, body);
  const csv = new CsvReader(file);
  const { rows, where } = csv.push(body, true);
  return { file, columns: csv.columns!, rows, where };
}

/**
 * Whether a file is JSON: by its name (.json; .csv, .tsv and .txt are CSV, even with a header
 * that starts with '['), else by its first character.
 */
export function isJson(file: string, text: string): boolean {
  if (/\.json$/i.test(file)) return true;
  if (/\.(csv|tsv|txt)$/i.test(file)) return false;
  return /^\s*[[{]/.test(text);
}

type Newline = Papa.ParseConfig['newline'];

/** Where the scan for a piece's end stands: a line break counts only outside quotes. */
const enum Scan {
  FieldStart,
  InField,
  InQuotes,
  /** A quote inside quotes: the field's end, or the first of an escaped "". */
  QuoteInQuotes,
}

/**
 * CSV through papaparse, fed a chunk of text at a time, each chunk split anywhere (mid-row,
 * mid-field): each push returns the rows it completed, so memory follows the chunk, not the
 * file. A chunk is cut at its last line break outside quotes (tracked across chunks), papaparse
 * parses the rows before it, and the rest waits for the next chunk. Every row keeps the line it
 * starts on: blank lines (skipped) and quoted fields with line breaks inside count as lines.
 */
export class CsvReader {
  columns: string[] | null = null;
  private held: string[] = [];
  private heldLength = 0;
  /** The line the held text starts on, and the scan's state at its end. */
  private line = 1;
  private state = Scan.FieldStart;
  private delimiter: string | undefined;
  private newline: Newline | undefined;
  private rowCount = 0;

  constructor(readonly file: string) {}

  /** Reads `text` after what came before; `last` marks the end of the file. */
  push(text: string, last = false): Piece {
    if (this.heldLength + text.length > MAX_STRING) {
      throw new InputError(`${this.file}: line ${this.line} starts a row that runs past ${(MAX_STRING / 2 ** 20).toFixed(0)} MiB without a line break outside quotes (a quote that never closes?)`);
    }
    if (this.delimiter === undefined) {
      // The delimiter is guessed from the first 64 KiB (or the whole file, if shorter), as
      // papaparse would; until then the text is held, not scanned.
      if (!last && this.heldLength + text.length < 1 << 16) return this.hold(text);
      text = this.take() + text;
      this.guess(text);
    }
    if (last) return this.parse(this.take() + text, true);
    const at = this.cut(text);
    if (at < 0) return this.hold(text);
    const piece = this.take() + text.slice(0, at + 1);
    this.hold(text.slice(at + 1));
    return this.parse(piece, false);
  }

  /** Keeps text that does not end a row yet, as parts: a long row is joined once, not at every chunk. */
  private hold(text: string): Piece {
    if (text) this.held.push(text);
    this.heldLength += text.length;
    return { rows: [], where: () => '' };
  }

  private take(): string {
    const text = this.held.join('');
    this.held = [];
    this.heldLength = 0;
    return text;
  }

  /** The index of the last line break in `text` outside quotes, the scan going on from where the last chunk left it (-1 when none). */
  private cut(text: string): number {
    if (this.state !== Scan.InQuotes && this.state !== Scan.QuoteInQuotes && !text.includes('"')) {
      // No quote: the common case, no scan.
      if (text) this.state = text.endsWith('\n') || text.endsWith(this.delimiter!) ? Scan.FieldStart : Scan.InField;
      return text.lastIndexOf('\n');
    }
    // A quote opens a field only at the field's start (papaparse reads 5'11" as text).
    const delim = this.delimiter!.charCodeAt(0);
    let state = this.state;
    let cut = -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (state === Scan.InQuotes) {
        if (c === 34) state = Scan.QuoteInQuotes;
        continue;
      }
      if (state === Scan.QuoteInQuotes && c === 34) {
        state = Scan.InQuotes;
        continue;
      }
      if (c === 10) {
        cut = i;
        state = Scan.FieldStart;
      } else if (c === delim) state = Scan.FieldStart;
      else state = c === 34 && state === Scan.FieldStart ? Scan.InQuotes : Scan.InField;
    }
    this.state = state;
    return cut;
  }

  /** The delimiter papaparse would pick, from the first rows. */
  private guess(text: string): string {
    this.delimiter ??= Papa.parse<string[]>(text.slice(0, 1 << 16), { preview: 10, skipEmptyLines: 'greedy' }).meta.delimiter;
    return this.delimiter;
  }

  private parse(text: string, last: boolean): Piece {
    const rows: Cell[][] = [];
    const lines: number[] = [];
    const piece = { rows, where: (r: number) => `line ${lines[r]}` };
    if (text) {
      const parsed = Papa.parse<string[]>(text, { delimiter: this.guess(text), newline: this.newline });
      this.newline ??= parsed.meta.linebreak as Newline;
      const data = parsed.data;
      // A piece that ends at a line break gives one empty row after it: not a line of the file.
      const end = data[data.length - 1];
      if ((text.endsWith('\n') || text.endsWith('\r')) && end?.length === 1 && end[0] === '') data.pop();
      const starts: number[] = [];
      const nl = this.newline === '\r' ? '\r' : '\n';
      const quoted = text.includes('"');
      for (const r of data) {
        starts.push(this.line);
        this.line += 1;
        // A quoted field's line breaks are lines of the file too.
        if (quoted) for (const f of r) for (let i = f.indexOf(nl); i >= 0; i = f.indexOf(nl, i + 1)) this.line++;
      }
      // A file of one column has no delimiter to detect; papaparse then uses ',' and says so, which is fine.
      const fatal = parsed.errors.find((e) => e.type === 'Quotes');
      if (fatal) throw new InputError(`${this.file}: line ${starts[fatal.row ?? 0] ?? this.line}: ${fatal.message}`);
      data.forEach((r, i) => {
        // Lines of nothing but blanks and delimiters are skipped (papaparse's 'greedy').
        if (r.join('').trim() === '') return;
        if (!this.columns) {
          this.columns = nameColumns(this.file, r);
          return;
        }
        if (r.length !== this.columns.length) throw new InputError(`${this.file}: line ${starts[i]} has ${r.length} fields, the header has ${this.columns.length}`);
        rows.push(r);
        lines.push(starts[i]!);
      });
      this.rowCount += rows.length;
    }
    if (last) {
      if (!this.columns) throw new InputError(`${this.file}: the file is empty`);
      if (!this.rowCount) throw new InputError(`${this.file}: the header has no data rows under it`);
    }
    return piece;
  }
}

/**
 * A header's names, trimmed. A column without a name (a spreadsheet's or pandas' index column)
 * is called by its position, "column 3", so that --x can name it and predict finds it again.
 */
function nameColumns(file: string, header: string[]): string[] {
  const columns = header.map((h, i) => h.trim() || `column ${i + 1}`);
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) {
    const unnamed = header.findIndex((h, i) => !h.trim() && columns[i] === dup);
    throw new InputError(unnamed >= 0 ? `${file}: the header's column ${unnamed + 1} has no name, and "${dup}", the name it would get, is another column's` : `${file}: the header names column "${dup}" twice`);
  }
  return columns;
}

function parseJson(file: string, text: string): Table {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const csvLike = !/\.json$/i.test(file) && /^\s*\[[^\n]*[,;\t|]/.test(text);
    throw new InputError(`${file}: not valid JSON${csvLike ? " (if it is CSV whose header starts with '[', name the file .csv)" : ''}: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new InputError(`${file}: expected a JSON array of records (objects)`);
  if (!data.length) throw new InputError(`${file}: the array has no records`);
  const keys: string[] = [];
  data.forEach((rec, i) => {
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new InputError(`${file}: record ${i} is not an object`);
    for (const k of Object.keys(rec)) if (!keys.includes(k)) keys.push(k);
  });
  const columns = nameColumns(file, keys);
  // JSON.parse reads a number past float64's range (1e400) as Infinity: the cell keeps it, and
  // `numeric` refuses it as out of range rather than reading it as a missing value.
  const rows = data.map((rec: Record<string, unknown>) =>
    keys.map((c) => {
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
