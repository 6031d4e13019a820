/**
 * @file The CPU backend: runs the same graph node by node with the op table's reference code, in
 * float64 (the reference every test compares with) or float32 (to compare like with like).
 */
import { type FloatArray, OPS, type OpKind, type OpDef } from '../engine/ops.js';
import { sizeOf } from '../engine/shape.js';
import { formatNode } from '../engine/graph.js';
import { type Backend, type Executable, type Program, type Stats, zeroStats } from './program.js';

export type Precision = 'f32' | 'f64';

export class CpuBackend implements Backend {
  readonly kind = 'cpu';
  readonly description: string;

  constructor(readonly precision: Precision = 'f64') {
    this.description = `CPU float${precision === 'f64' ? 64 : 32}`;
  }

  async compile(program: Program): Promise<Executable> {
    return new CpuExecutable(program, this.precision);
  }

  dispose(): void {}
}

class CpuExecutable implements Executable {
  readonly stats: Stats = zeroStats();
  readonly planName = 'cpu';
  private readonly values: FloatArray[];
  private readonly state: FloatArray[][];
  private hyper: number[];
  /** Optimizer steps taken so far (PyTorch's `step`), kept across runs. */
  private steps = 0;

  constructor(
    private readonly program: Program,
    precision: Precision,
  ) {
    const Arr = precision === 'f64' ? Float64Array : Float32Array;
    this.values = program.graph.nodes.map((n) => new Arr(sizeOf(n.shape)));
    for (const n of program.graph.nodes) {
      if (n.op === 'constant') this.values[n.id]!.fill((n.attrs as { value: number }).value);
    }
    const slots = program.optimizer?.slots ?? 0;
    this.state = program.params.map((p) => Array.from({ length: slots }, () => new Arr(this.values[p.id]!.length)));
    this.hyper = Object.values(program.optimizer?.hyper ?? {});
  }

  write(id: number, data: FloatArray): void {
    this.values[id]!.set(data);
  }

  setHyper(values: readonly number[]): void {
    this.hyper = [...values];
  }

  async train(epochs: number): Promise<FloatArray> {
    const { loss, optimizer, params } = this.program;
    if (loss === null || !optimizer) throw new Error('train: the program was compiled without a loss and an optimizer');
    const history = new (this.values[0]!.constructor as typeof Float64Array)(epochs);
    for (let e = 0; e < epochs; e++) {
      this.forwardBackward();
      history[e] = this.values[loss]![0]!;
      this.steps++;
      params.forEach((p, i) => {
        if (p.grad !== null) optimizer.step(this.values[p.id]!, this.values[p.grad]!, this.state[i]!, this.hyper, this.steps);
      });
    }
    return history;
  }

  async evaluate(ids: readonly number[]): Promise<FloatArray[]> {
    this.forwardBackward();
    return this.read(ids);
  }

  async read(ids: readonly number[]): Promise<FloatArray[]> {
    return ids.map((id) => this.values[id]!.slice());
  }

  plan(): string {
    const lines = this.program.graph.nodes.filter((n) => OPS[n.op].kernel !== 'leaf').map((n) => `cpu ${formatNode(n)}`);
    return lines.join('\n');
  }

  explain(): string {
    return `plan: the CPU backend evaluates every node in graph order with the op table's reference code\n${this.plan()}`;
  }

  dispose(): void {}

  private forwardBackward(): void {
    const { nodes } = this.program.graph;
    for (const n of nodes) {
      if (OPS[n.op].kernel === 'leaf') continue;
      const def = OPS[n.op] as OpDef<OpKind>;
      const inputs = n.inputs.map((i) => ({ data: this.values[i]!, shape: nodes[i]!.shape }));
      def.cpu(n.attrs, inputs, this.values[n.id]!, n.shape);
    }
  }
}
