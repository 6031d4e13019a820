/**
 * @file Checking the values a user hands fusegrad before any reaches a device: each entry a
 * number, finite, within float32's range on a float32 backend, and the count and rows the shape
 * needs. A bad entry is a DataError naming the tensor, the row and column, and the value.
 */
import { fmtShape, sizeOf } from '../engine/shape.js';

/** The typed arrays of numbers (BigInt64Array and BigUint64Array hold bigints, not numbers). */
export type NumberArray = Float32Array | Float64Array | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array;

/**
 * Values a user may write: a number, an array (flat, or rows for a [rows, columns] tensor) whose
 * rows may be typed arrays, or a flat typed array of any number type.
 */
export type TensorData = number | readonly number[] | readonly (readonly number[] | NumberArray)[] | NumberArray;

/** A typed array of numbers: every view but a DataView or a typed array of bigints. */
function isNumberArray(v: unknown): v is NumberArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
}

/** Rows (arrays or typed arrays) laid end to end: a flat list for a 1-D shape of their total length. */
export function flatList(data: TensorData): TensorData {
  if (!Array.isArray(data) || !data.some((row) => Array.isArray(row) || isNumberArray(row))) return data;
  return (data as readonly (number | readonly number[] | NumberArray)[]).flatMap((row) => (typeof row === 'number' ? [row] : Array.from(row as ArrayLike<number>)));
}

/** Bad values written to a model, or bad options: names the tensor or option, the shape and the offending row or index. */
export class DataError extends Error {
  override name = 'DataError';
}

/** The largest finite float32: a WebGPU device (and the float32 CPU backend) holds nothing larger. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** A value as a message shows it: JSON where it has one, else its type. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  // JSON shows a typed array as an object of its indices ({"0":1}): its type and length say more.
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}${v instanceof DataView ? '' : ` of ${(v as unknown as ArrayLike<unknown>).length}`}`;
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return typeof v === 'bigint' ? `${v}n` : String(v);
  try {
    const text = JSON.stringify(v);
    return text.length > 40 ? `${text.slice(0, 37)}...` : text;
  } catch {
    return typeof v;
  }
}

export function flatLength(data: TensorData): number {
  if (typeof data === 'number') return 1;
  if (isNumberArray(data)) return data.length;
  if (!Array.isArray(data)) return -1;
  return (data as readonly (number | readonly number[] | NumberArray)[]).reduce<number>((s, v) => s + (Array.isArray(v) || isNumberArray(v) ? v.length : 1), 0);
}

export function repeat(flat: Float64Array, times: number): Float64Array {
  const out = new Float64Array(flat.length * times);
  for (let r = 0; r < times; r++) out.set(flat, r * flat.length);
  return out;
}

/**
 * Checks data against a shape and returns it flat, as float64 so the CPU reference loses nothing.
 * Every entry must be a number (Float64Array.from would read null as 0 and "88" as 88), finite,
 * and, for a float32 device, within float32's range (a larger value would become Infinity there).
 */
export function flatten(name: string, data: TensorData, shape: readonly number[], float32: boolean, call = 'write'): Float64Array {
  const expected = sizeOf(shape);
  const cols = shape.length === 2 ? shape[1]! : 0;
  const where = (i: number) => (cols ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`);
  let flat: Float64Array;
  const accepted = 'a number, an array (flat, or of rows, each an array or a typed array) or a typed array of numbers (Float64Array, Float32Array, Int32Array, ...)';
  if (typeof data === 'number') {
    flat = Float64Array.of(data);
  } else if (isNumberArray(data)) {
    flat = Float64Array.from(data);
  } else if (!Array.isArray(data)) {
    const bigints = data instanceof BigInt64Array || data instanceof BigUint64Array ? ' (its bigints are not numbers: convert it, e.g. Float64Array.from(data, Number))' : '';
    throw new DataError(`${call} ${name}: expected ${accepted}, got ${describe(data)}${bigints}`);
  } else if (data.length && (Array.isArray(data[0]) || isNumberArray(data[0]))) {
    const rows = data as readonly (readonly unknown[] | NumberArray)[];
    const width = shape.length === 2 ? shape[1]! : 1;
    if (shape.length !== 2 || rows.length !== shape[0]) {
      throw new DataError(`${call} ${name}: got ${rows.length} rows, shape ${fmtShape(shape)} needs ${shape.length === 2 ? shape[0] : 'a flat array'}`);
    }
    flat = new Float64Array(expected);
    rows.forEach((row, r) => {
      const list = Array.isArray(row) || isNumberArray(row);
      if (!list || row.length !== width) {
        throw new DataError(`${call} ${name}: row ${r} ${list ? `has ${row.length} values` : `is ${describe(row)}, not an array or a typed array of numbers`}, shape ${fmtShape(shape)} needs ${width}`);
      }
      for (let c = 0; c < width; c++) {
        const v = row[c];
        if (typeof v !== 'number') throw new DataError(`${call} ${name}: the value at row ${r}, column ${c} is ${describe(v)}, not a number`);
        flat[r * width + c] = v;
      }
    });
  } else {
    const list = data as readonly unknown[];
    const bad = list.findIndex((v) => typeof v !== 'number');
    if (bad >= 0) throw new DataError(`${call} ${name}: the value at ${where(bad)} is ${describe(list[bad])}, not a number`);
    flat = Float64Array.from(list as number[]);
  }
  if (flat.length !== expected) {
    throw new DataError(`${call} ${name}: got ${flat.length} values, shape ${fmtShape(shape)} needs ${expected}`);
  }
  const bad = flat.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new DataError(`${call} ${name}: the value at ${where(bad)} is ${flat[bad]}; fusegrad needs finite numbers (drop or fill missing values first)`);
  }
  if (float32) {
    const big = flat.findIndex((v) => Math.abs(v) > FLOAT32_MAX);
    if (big >= 0) {
      throw new DataError(
        `${call} ${name}: the value at ${where(big)} is ${flat[big]}, beyond float32's range (±${FLOAT32_MAX.toPrecision(5)}), which this backend computes in; ` +
          "rescale the data (divide by a power of ten, or standardize it) or train on the CPU backend in float64 (device: 'cpu', fusegrad fit --device cpu)",
      );
    }
  }
  return flat;
}

/**
 * The known name closest to a misspelt one: the same but for case, dashes or underscores, or
 * within two edits (insert, delete, replace, swap) of a name at least four letters long; else null.
 */
export function nearest(name: string, known: readonly string[]): string | null {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => plain(k) === plain(name));
  if (same) return same;
  let best: string | null = null;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(plain(name), plain(k));
    if (d < bestDistance && Math.min(k.length, name.length) >= 4) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, replacements and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
