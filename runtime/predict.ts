/**
 * @file Model.predict's machinery: a model's outputs for rows it was not trained on, on whatever
 * plan it trains with. The outputs' forward graph is compiled for chunks of rows (compile/forward.ts)
 * on the model's own backend, the trained parameters are copied into it, and the rows go through
 * a chunk at a time: one write of the chunk's inputs and one evaluate (one submission, one read).
 */
import { forwardProgram, widestRow } from '../compile/forward.js';
import type { Forward } from '../compile/forward.js';
import type { Graph } from '../engine/graph.js';
import type { FloatArray } from '../engine/ops.js';
import type { Backend, Executable, PlanOptions } from './program.js';

/** The most bytes one value of a prediction chunk holds on the CPU, which has no binding limit: it bounds the interpreter's arrays. */
export const CPU_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Rows per chunk: the rows asked, rounded up to a power of two (so a run of calls with different
 * row counts compiles a few chunk sizes, not one each), and at most what keeps the widest value of
 * a chunk within `maxBytes` (one storage binding on WebGPU).
 */
export function chunkRows(rows: number, widest: number, bytesPerValue: number, maxBytes: number): number {
  const most = Math.max(1, Math.floor(maxBytes / (bytesPerValue * widest)));
  return Math.min(2 ** Math.ceil(Math.log2(Math.max(1, rows))), most);
}

interface Compiled {
  forward: Forward;
  exe: Executable;
}

/** The compiled forward programs of one model, by outputs and chunk size, made on first use. */
export class Predictor {
  private readonly compiled = new Map<string, Promise<Compiled>>();

  constructor(
    private readonly backend: Backend,
    private readonly graph: Graph,
    /** Rows of the model's data inputs: the row count the graph was built with. */
    private readonly n: number,
    private readonly options: PlanOptions,
    /** The largest value (bytes) one chunk may hold: WebGPU's storage binding limit (with the model's layout overrides). */
    private readonly maxBytes: number,
  ) {}

  /** The data inputs `outputs` read, by name, with their values per row. */
  inputs(outputs: readonly number[]): { name: string; width: number }[] {
    return forwardProgram(this.graph, this.n, outputs, 1).inputs;
  }

  /**
   * Predicts `rows` rows: `data` holds each input's values by name (rows × width, row-major),
   * `params` each parameter's current values. Returns each output's values, rows × its width.
   */
  async predict(outputs: readonly number[], rows: number, data: Map<string, Float64Array>, params: Map<string, FloatArray>): Promise<FloatArray[]> {
    const bytes = this.backend.precision === 'f32' ? 4 : 8;
    const size = chunkRows(rows, widestRow(this.graph, this.n, outputs), bytes, this.maxBytes);
    const { forward, exe } = await this.compile(outputs, size);
    for (const p of forward.program.params) exe.write(p.id, params.get(p.name)!);
    const widths = forward.outputs.map((id) => forward.program.graph.nodes[id]!.shape.slice(1).reduce((a, b) => a * b, 1));
    let results: FloatArray[] | null = null;
    for (let start = 0; start < rows; start += size) {
      const count = Math.min(size, rows - start);
      for (const input of forward.inputs) {
        const all = data.get(input.name)!;
        const chunk = all.subarray(start * input.width, (start + count) * input.width);
        // The last chunk is padded with zero rows, whose predictions are dropped: one compiled size.
        if (count === size) exe.write(input.id, chunk);
        else {
          const padded = new Float64Array(size * input.width);
          padded.set(chunk);
          exe.write(input.id, padded);
        }
      }
      const values = await exe.evaluate(forward.outputs);
      results ??= values.map((v, k) => new (v.constructor as Float64ArrayConstructor | Float32ArrayConstructor)(rows * widths[k]!));
      values.forEach((v, k) => results![k]!.set(v.subarray(0, count * widths[k]!), start * widths[k]!));
    }
    return results ?? forward.outputs.map(() => (bytes === 4 ? new Float32Array(0) : new Float64Array(0)));
  }

  /** Frees every compiled forward program. */
  async dispose(): Promise<void> {
    const all = [...this.compiled.values()];
    this.compiled.clear();
    for (const c of all) (await c).exe.dispose();
  }

  private compile(outputs: readonly number[], size: number): Promise<Compiled> {
    const key = `${outputs.join(',')}@${size}`;
    let found = this.compiled.get(key);
    if (!found) {
      const forward = forwardProgram(this.graph, this.n, outputs, size);
      found = this.backend.compile(forward.program, this.options).then((exe) => ({ forward, exe }));
      // A failed compile is not kept: the next call tries again and reports its own error.
      found.catch(() => this.compiled.delete(key));
      this.compiled.set(key, found);
    }
    return found;
  }
}
