/**
 * @file Checking the values a user hands fusegrad before any reaches a device: each entry a
 * number, finite, within float32's range on a float32 backend, and the count and rows the shape
 * needs. A bad entry is a DataError naming the tensor, the row and column, and the value.
 */
import { fmtShape, sizeOf } from '../engine/shape.js';

/** Values a user may write: a number, nested arrays matching the shape, or a flat typed array. */
export type TensorData = number | readonly number[] | readonly (readonly number[])[] | Float32Array | Float64Array;

/** Bad values written to a model, or bad options: names the tensor or option, the shape and the offending row or index. */
export class DataError extends Error {
  override name = 'DataError';
}

/** The largest finite float32: a WebGPU device (and the float32 CPU backend) holds nothing larger. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** A value as a message shows it: JSON where it has one, else its type. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
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
  if (data instanceof Float32Array || data instanceof Float64Array) return data.length;
  if (!Array.isArray(data)) return -1;
  return (data as readonly (number | readonly number[])[]).reduce<number>((s, v) => s + (Array.isArray(v) ? v.length : 1), 0);
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
export function flatten(name: string, data: TensorData, shape: readonly number[], float32: boolean): Float64Array {
  const expected = sizeOf(shape);
  const cols = shape.length === 2 ? shape[1]! : 0;
  const where = (i: number) => (cols ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`);
  let flat: Float64Array;
  if (typeof data === 'number') {
    flat = Float64Array.of(data);
  } else if (data instanceof Float32Array || data instanceof Float64Array) {
    flat = Float64Array.from(data);
  } else if (!Array.isArray(data)) {
    throw new DataError(`write ${name}: expected a number, an array or a Float32Array/Float64Array, got ${describe(data)}`);
  } else if (data.length && Array.isArray(data[0])) {
    const rows = data as readonly (readonly number[])[];
    const width = shape.length === 2 ? shape[1]! : 1;
    if (shape.length !== 2 || rows.length !== shape[0]) {
      throw new DataError(`write ${name}: got ${rows.length} rows, shape ${fmtShape(shape)} needs ${shape.length === 2 ? shape[0] : 'a flat array'}`);
    }
    flat = new Float64Array(expected);
    rows.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== width) {
        throw new DataError(`write ${name}: row ${r} has ${Array.isArray(row) ? row.length : 'no'} values, shape ${fmtShape(shape)} needs ${width}`);
      }
      row.forEach((v, c) => {
        if (typeof v !== 'number') throw new DataError(`write ${name}: the value at row ${r}, column ${c} is ${describe(v)}, not a number`);
        flat[r * width + c] = v;
      });
    });
  } else {
    const list = data as readonly unknown[];
    const bad = list.findIndex((v) => typeof v !== 'number');
    if (bad >= 0) throw new DataError(`write ${name}: the value at ${where(bad)} is ${describe(list[bad])}, not a number`);
    flat = Float64Array.from(list as number[]);
  }
  if (flat.length !== expected) {
    throw new DataError(`write ${name}: got ${flat.length} values, shape ${fmtShape(shape)} needs ${expected}`);
  }
  const bad = flat.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new DataError(`write ${name}: the value at ${where(bad)} is ${flat[bad]}; fusegrad needs finite numbers (drop or fill missing values first)`);
  }
  if (float32) {
    const big = flat.findIndex((v) => Math.abs(v) > FLOAT32_MAX);
    if (big >= 0) {
      throw new DataError(
        `write ${name}: the value at ${where(big)} is ${flat[big]}, beyond float32's range (±${FLOAT32_MAX.toPrecision(5)}), which this backend computes in; ` +
          "rescale the data (divide by a power of ten, or standardize it) or train on the CPU backend in float64 (device: 'cpu', fusegrad fit --device cpu)",
      );
    }
  }
  return flat;
}
