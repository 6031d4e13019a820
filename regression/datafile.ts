/**
 * @file Reading a data file from disk (Node): what the bytes are (UTF-8 text, or UTF-16, gzip, a
 * zip archive, named as such), then CSV a piece at a time, so that no string holds the whole file
 * and predict's memory does not grow with it. JSON is parsed whole, up to one string's length.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { CsvReader, InputError, MAX_STRING, type Piece, type Table, isJson, parseTable } from './data.js';

/** How many bytes are read and parsed at a time. */
export const PIECE_BYTES = 256 << 10;

export interface DataFile {
  file: string;
  columns: string[];
  /** The rows a piece at a time, in order; the file is closed at the end. */
  pieces: IterableIterator<Piece>;
  /** Closes the file when the reading stops early. */
  close(): void;
}

const cannotRead = (file: string, err: unknown) => new InputError(`${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** A file that is not UTF-8 text is named for what it is, before any parse reads it as garbage. */
function sniff(file: string, b: Uint8Array): void {
  const starts = (...bytes: number[]) => bytes.every((v, i) => b[i] === v);
  if (starts(0x1f, 0x8b)) throw new InputError(`${file}: the file is gzip-compressed; decompress it first (gunzip)`);
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff)) throw new InputError(`${file}: the file looks like UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8`);
  if (starts(0x50, 0x4b, 0x03, 0x04)) throw new InputError(`${file}: the file is a zip archive (an Excel .xlsx workbook is one); save or export it as CSV`);
}

/** NUL bytes, which no CSV or JSON text has: UTF-16 without a byte-order mark (every other byte zero), or not text. */
function sniffNul(file: string, b: Uint8Array): void {
  const head = b.subarray(0, 4096);
  if (!head.includes(0)) return;
  let even = 0;
  let odd = 0;
  head.forEach((v, i) => {
    if (v === 0) i % 2 ? odd++ : even++;
  });
  const half = head.length / 2;
  if (odd > 0.4 * half || even > 0.4 * half) throw new InputError(`${file}: the file looks like UTF-16 (every other byte is zero); save it as UTF-8`);
  throw new InputError(`${file}: the file has NUL bytes, so it is not CSV or JSON text`);
}

/**
 * Opens a data file and reads as far as its header. CSV rows then come a piece at a time
 * (`pieceBytes` each); a JSON file comes as one piece.
 */
export function openData(file: string, pieceBytes = PIECE_BYTES): DataFile {
  let fd: number;
  let first: Uint8Array;
  let size: number;
  let json: boolean;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw cannotRead(file, err);
  }
  const buf = Buffer.allocUnsafe(pieceBytes);
  try {
    size = fstatSync(fd).size;
    first = buf.subarray(0, readSync(fd, buf, 0, pieceBytes, null));
    sniff(file, first);
    const bom = first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf ? 3 : 0;
    first = first.subarray(bom);
    json = isJson(file, new TextDecoder().decode(first.subarray(0, 64)));
    if (json && size > MAX_STRING) throw new InputError(`${file}: ${MiB(size)} of JSON is more than one string holds (${MiB(MAX_STRING)}), and JSON is parsed whole; save it as CSV, which is read in pieces`);
    if (!json) sniffNul(file, first);
  } catch (err) {
    closeSync(fd);
    throw err instanceof InputError ? err : cannotRead(file, err);
  }
  if (!json) return csvFile(file, fd, buf, first, pieceBytes);
  closeSync(fd);
  const table = readJson(file);
  return { file, columns: table.columns, pieces: [table][Symbol.iterator](), close: () => {} };
}

function readJson(file: string): Table {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw cannotRead(file, err);
  }
  sniffNul(file, bytes);
  return parseTable(file, bytes.toString('utf8'));
}

function csvFile(file: string, fd: number, buf: Buffer, first: Uint8Array, pieceBytes: number): DataFile {
  const csv = new CsvReader(file);
  const decoder = new TextDecoder();
  const pieces = (function* () {
    try {
      let chunk = first;
      while (chunk.length) {
        yield csv.push(decoder.decode(chunk, { stream: true }));
        chunk = buf.subarray(0, readSync(fd, buf, 0, pieceBytes, null));
      }
      yield csv.push(decoder.decode(), true);
    } catch (err) {
      throw err instanceof InputError ? err : cannotRead(file, err);
    } finally {
      closeSync(fd);
    }
  })();
  // Read on until the header is known; those pieces come first.
  const ahead: Piece[] = [];
  while (!csv.columns) {
    const next = pieces.next();
    if (next.done) break;
    ahead.push(next.value);
  }
  return {
    file,
    columns: csv.columns!,
    pieces: (function* () {
      yield* ahead;
      yield* pieces;
    })(),
    close: () => void pieces.return(undefined),
  };
}

/** A whole data file as a table (fit, ols): CSV read in pieces, so its size is bounded by memory, not by a string's length. */
export function readTable(file: string): Table {
  const data = openData(file);
  const pieces = [...data.pieces].filter((p) => p.rows.length);
  if (pieces.length === 1) return { file, columns: data.columns, rows: pieces[0]!.rows, where: pieces[0]!.where };
  const rows: Table['rows'] = [];
  const starts: number[] = [];
  for (const p of pieces) {
    starts.push(rows.length);
    for (const r of p.rows) rows.push(r);
  }
  const where = (r: number) => {
    let lo = 0;
    for (let hi = starts.length - 1; lo < hi; ) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= r) lo = mid;
      else hi = mid - 1;
    }
    return pieces[lo]!.where(r - starts[lo]!);
  };
  return { file, columns: data.columns, rows, where };
}
