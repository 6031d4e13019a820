/**
 * @file The benchmark: trains the regression graph for a matrix of sizes on every backend (fusegrad
 * fused and per-node on WebGPU, fusegrad CPU compiled in float32 and float64 and its reference
 * interpreter, a plain TypeScript loop, and the peers a user would pick instead: TensorFlow.js and jax-js on WebGPU and on the CPU), and reports
 * ms per epoch, epochs per second, dispatches and submits per epoch (counted by wrapping WebGPU's
 * entry points, for peers too), GB/s over the bytes an epoch must read, and how far each row is
 * from the adapter's read-bandwidth floor, measured in the same run.
 */
import { Graph } from '../engine/graph.js';
import type { Optimizer } from '../optim/optimizer.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import { CpuBackend } from '../runtime/cpu.js';
import { requestBackend } from '../runtime/device.js';
import { compile } from '../runtime/model.js';
import { cpuCount, defaultThreads, threadsAvailable } from '../runtime/threads.js';
import type { PlanOptions } from '../runtime/program.js';
import type { WebGpuBackend } from '../runtime/webgpu.js';
import { APPLES } from '../examples/apples.js';
import { synthetic } from '../regression/synthetic.js';
import { computeRate, fmt, readBandwidth, summarize, table, timePerUnit, type Timing } from './lib.js';
import { initialLayers, networkGraph } from '../regression/network.js';
import type { PeerProblem, PeerRunner, PeerSession } from './peers/types.js';
import pkg from '../package.json';

export interface Size {
  label: string;
  n: number;
  d: number;
  k: number;
  /** Hidden tanh layers' units (a network, `100000x16h64`); none for the linear model. */
  hidden?: number[];
}

export const DEFAULT_SIZES: Size[] = [
  { label: 'apples 5x3->2', n: 5, d: 3, k: 2 },
  ...[1e3, 1e5, 1e6].flatMap((n) => [4, 16].map((d) => ({ label: `${n}x${d}`, n, d, k: 1 }))),
];

export const ROWS = ['fused', 'per-node', 'cpu32', 'cpu64', 'cpu-reference', 'loop', 'tfjs-webgpu', 'tfjs-cpu', 'jax-webgpu', 'jax-cpu'] as const;
export type RowKind = (typeof ROWS)[number];

export interface BenchOptions {
  sizes?: Size[];
  rows?: RowKind[];
  optimizer?: 'sgd' | 'adam';
  /** Aim for timed runs of about this many ms (each row is timed `runs` times after a warm-up). */
  targetMs?: number;
  runs?: number;
  /** Rows whose first epoch took longer than this many ms are timed over 2 single-epoch runs only. */
  slowMs?: number;
  /** Epochs per timed run, instead of sizing each run to `targetMs`. */
  epochs?: number;
  log?: (line: string) => void;
}

export interface BenchRow {
  size: string;
  n: number;
  d: number;
  k: number;
  hidden: number[];
  row: string;
  /** ms per epoch: median, min, max over the timed runs. */
  msPerEpoch: number;
  min: number;
  max: number;
  runs: number;
  epochsPerRun: number;
  epochsPerSecond: number;
  dispatchesPerEpoch: number | null;
  submitsPerEpoch: number | null;
  gbps: number;
  /** Epoch time over bytes / measured bandwidth. */
  floorRatio: number;
  /** The flops an epoch must do (epochFlops) over the epoch time, and that time over the flops at the measured multiply-add rate. */
  gflops: number;
  computeRatio: number;
  /** Epoch time over the fastest row's at this size. */
  vsFastest: number;
  /** The loss after the first two epochs from zero weights: every correct row agrees. */
  lossAfter2: number;
  /** lossAfter2 agrees with fusegrad's float64 CPU row (or, without one, the first row) within 1e-3. */
  lossAgrees: boolean;
  note?: string;
}

export interface BenchResult {
  date: string;
  adapter: string;
  bandwidth: { gbps: number; layout: string };
  /** The adapter's multiply-add rate (fma_rate.wgsl), the compute floor's divisor. */
  compute: { gflops: number; groups: number };
  optimizer: string;
  rows: BenchRow[];
  skipped: { row: string; why: string }[];
}

/** What every row offers the timer: train from the current weights and await the device. */
interface Session {
  train(epochs: number): Promise<number>;
  dispose(): void;
  note?: string;
}

/** Counts WebGPU dispatches and submits process-wide, whoever makes them (fusegrad or a peer). */
function gpuCounter() {
  const g = globalThis as unknown as { GPUComputePassEncoder?: { prototype: GPUComputePassEncoder }; GPUQueue?: { prototype: GPUQueue } };
  const counts = { dispatches: 0, submits: 0 };
  if (!g.GPUComputePassEncoder || !g.GPUQueue) return { counts, restore: () => {} };
  const pass = g.GPUComputePassEncoder.prototype;
  const queue = g.GPUQueue.prototype;
  const dispatch = pass.dispatchWorkgroups;
  const submit = queue.submit;
  pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...a: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    counts.dispatches++;
    return dispatch.apply(this, a);
  };
  queue.submit = function (this: GPUQueue, ...a: Parameters<GPUQueue['submit']>) {
    counts.submits++;
    return submit.apply(this, a);
  };
  return {
    counts,
    restore: () => {
      pass.dispatchWorkgroups = dispatch;
      queue.submit = submit;
    },
  };
}

/** The regression in a plain TypeScript loop over Float32Arrays: the CPU baseline a user would write. */
function plainLoop(p: PeerProblem): Session {
  const { n, d, k, X, Y, lr } = p;
  const W = new Float32Array(k * d);
  const b = new Float32Array(k);
  const gW = new Float32Array(k * d);
  const gb = new Float32Array(k);
  return {
    async train(epochs) {
      let loss = 0;
      for (let e = 0; e < epochs; e++) {
        gW.fill(0);
        gb.fill(0);
        loss = 0;
        for (let r = 0; r < n; r++) {
          for (let t = 0; t < k; t++) {
            let pred = b[t]!;
            for (let j = 0; j < d; j++) pred += W[t * d + j]! * X[r * d + j]!;
            const err = pred - Y[r * k + t]!;
            loss += err * err;
            for (let j = 0; j < d; j++) gW[t * d + j]! += err * X[r * d + j]!;
            gb[t]! += err;
          }
        }
        const scale = 2 / (n * k);
        for (let i = 0; i < k * d; i++) W[i] = W[i]! - lr * scale * gW[i]!;
        for (let t = 0; t < k; t++) b[t] = b[t]! - lr * scale * gb[t]!;
        loss /= n * k;
      }
      return loss;
    },
    dispose() {},
  };
}

async function fusegradSession(p: PeerProblem, backend: WebGpuBackend | CpuBackend, optimizer: Optimizer, plan: PlanOptions['plan']): Promise<Session> {
  const g = new Graph();
  const X = g.input('X', [p.n, p.d]);
  const Y = g.input('Y', [p.n, p.k]);
  const loss = g.mean(g.squaredError(networkGraph(g, X, p.k, p.hidden, 'tanh'), Y));
  const model = await compile(g, { loss, optimizer, backend, plan });
  model.write({ X: p.X, Y: p.Y });
  // Every row starts from the same weights (zeros for the linear model), so their losses agree.
  p.init.forEach((values, i) => model.write({ [paramName(p.hidden, i)]: values }));
  return {
    async train(epochs) {
      const run = await model.train({ epochs });
      return run.loss[run.loss.length - 1]!;
    },
    dispose: () => model.dispose(),
    note: backend.kind === 'webgpu' ? `${model.planName} plan` : undefined,
  };
}

function problemFor(size: Size, lr: number): PeerProblem {
  if (size.label.startsWith('apples')) {
    return { n: 5, d: 3, k: 2, hidden: [], X: Float32Array.from(APPLES.X.flat()), Y: Float32Array.from(APPLES.Y.flat()), lr: 1e-5, init: [new Float32Array(6), new Float32Array(2)] };
  }
  const hidden = size.hidden ?? [];
  const data = synthetic(size.n, size.d, size.k, size.n + size.d);
  const init = hidden.length
    ? initialLayers([size.d, ...hidden, size.k], 'tanh', 1).flatMap((l) => [Float32Array.from(l.weight.flat()), Float32Array.from(l.bias)])
    : [new Float32Array(size.k * size.d), new Float32Array(size.k)];
  return { n: size.n, d: size.d, k: size.k, hidden, X: Float32Array.from(data.X), Y: Float32Array.from(data.Y), lr, init };
}

/** The name of the i-th parameter in PeerProblem.init's order: W, b for the linear model, W1, b1, W2, ... for a network. */
const paramName = (hidden: number[], i: number) => `${i % 2 ? 'b' : 'W'}${hidden.length ? Math.floor(i / 2) + 1 : ''}`;

/**
 * The flops an epoch of full-batch training must do: per layer of `in` inputs and `out` units,
 * 2 n in out for the forward product, as many for the weights' gradient, and as many again for
 * the gradient of its input (not for the first layer, whose input is the data).
 */
export function epochFlops(n: number, sizes: number[]): number {
  return sizes.slice(1).reduce((s, out, l) => s + n * sizes[l]! * out * (l === 0 ? 4 : 6), 0);
}

/**
 * Times a session: a warm-up of 2 epochs (pipelines compile and shaders JIT on first use, so it
 * is never timed; the loss it returns is checked), 1-epoch probes that sort slow rows out (2 runs
 * of 1 epoch), then lib.ts's timePerUnit (runs sized to the target, or `epochs` long).
 */
async function timeSession(s: Session, o: Required<Pick<BenchOptions, 'targetMs' | 'runs' | 'slowMs'>> & { epochs?: number }): Promise<Timing & { units: number; lossAfter2: number }> {
  const lossAfter2 = await s.train(2);
  // Two 1-epoch probes, the faster counting: lavapipe now and then stalls a call for a second or two.
  const probes: number[] = [];
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    await s.train(1);
    probes.push(performance.now() - t);
  }
  if (o.epochs || Math.min(...probes) <= o.slowMs) {
    const units = o.epochs ? { minUnits: o.epochs, maxUnits: o.epochs } : { minUnits: 1 };
    return { ...(await timePerUnit((e) => s.train(e), { targetMs: o.targetMs, runs: o.runs, ...units })), lossAfter2 };
  }
  const times: number[] = [];
  for (let r = 0; r < 2; r++) {
    const t = performance.now();
    await s.train(1);
    times.push(performance.now() - t);
  }
  return { ...summarize(times), runs: 2, units: 1, lossAfter2 };
}

/** The packages each peer's rows need: the benchmark's dev dependencies, which an installed fusegrad lacks. */
export const PEER_PACKAGES = {
  'TensorFlow.js': ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu'],
  'jax-js': ['@jax-js/jax'],
} as const;

/** The install arguments for a peer, at the versions fusegrad's own benchmark uses. */
export function peerInstall(peer: keyof typeof PEER_PACKAGES): string {
  const versions: Record<string, string> = pkg.devDependencies;
  return PEER_PACKAGES[peer].map((name) => `${name}@${versions[name]}`).join(' ');
}

/** Loads the peer runners, which are the benchmark's dev dependencies; absent ones become skipped rows. */
async function loadPeers(rows: RowKind[], log: (l: string) => void): Promise<{ runners: Map<string, PeerRunner[]>; skipped: { row: string; why: string }[] }> {
  const runners = new Map<string, PeerRunner[]>();
  const skipped: { row: string; why: string }[] = [];
  const wanted = (r: RowKind) => rows.includes(r);
  if (!wanted('tfjs-webgpu') && !wanted('tfjs-cpu') && !wanted('jax-webgpu') && !wanted('jax-cpu')) return { runners, skipped };
  const { installNavigator } = await import('./peers/node-navigator.js');
  await installNavigator();
  const load = async (kinds: RowKind[], what: keyof typeof PEER_PACKAGES, get: () => Promise<PeerRunner[]>) => {
    if (!kinds.some(wanted)) return;
    try {
      const all = await get();
      // A runner is a WebGPU row when its name says so; the rest run on the CPU (tfjs 'cpu', jax-js 'wasm').
      for (const kind of kinds) runners.set(kind, all.filter((r) => r.name.toLowerCase().includes('webgpu') === kind.endsWith('webgpu')));
    } catch (err) {
      const e = err as Error & { code?: string };
      // Installed from npm, fusegrad has no dev dependencies: say what to install, not Node's resolver error.
      const absent = e.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (package|module)/.test(e.message);
      const why = absent ? `${what} is not installed; to compare against it, npm install ${peerInstall(what)}` : `${what} did not load: ${e.message}`;
      for (const kind of kinds.filter(wanted)) skipped.push({ row: kind, why });
      log(`bench: ${why}; its rows are skipped`);
    }
  };
  await load(['tfjs-webgpu', 'tfjs-cpu'], 'TensorFlow.js', async () => (await import('./peers/tfjs.js')).tfjsRunners());
  await load(['jax-webgpu', 'jax-cpu'], 'jax-js', async () => (await import('./peers/jaxjs.js')).jaxRunners());
  return { runners, skipped };
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const { sizes = DEFAULT_SIZES, rows = [...ROWS], optimizer = 'sgd', targetMs = 300, runs = 5, slowMs = 1500, epochs: fixedEpochs } = options;
  const log = options.log ?? (() => {});
  // The peers' WebGPU backends must see navigator.gpu before they load; fusegrad then shares that adapter.
  const { runners, skipped } = await loadPeers(rows, log);
  const gpu = (await requestBackend({ device: 'webgpu' })) as WebGpuBackend;
  const bandwidth = await readBandwidth(gpu);
  const compute = await computeRate(gpu);
  log(`bench: ${gpu.description}; read bandwidth ${bandwidth.gbps.toFixed(2)} GB/s; multiply-add ${compute.gflops.toFixed(1)} GFLOP/s`);
  const cores = (await cpuCount()) ?? 1;
  const makeOptimizer = (lr: number) => (optimizer === 'adam' ? adam({ lr }) : sgd({ lr }));
  const out: BenchRow[] = [];
  for (const size of sizes) {
    const problem = problemFor(size, 0.01);
    const bytes = 4 * size.n * (size.d + size.k);
    const flops = epochFlops(size.n, [size.d, ...problem.hidden, size.k]);
    const here: BenchRow[] = [];
    const candidates: { row: string; make: () => Promise<Session> }[] = [];
    for (const kind of rows) {
      if (kind === 'fused') candidates.push({ row: 'fusegrad WebGPU (fused)', make: () => fusegradSession(problem, gpu, makeOptimizer(problem.lr), 'auto') });
      if (kind === 'per-node') candidates.push({ row: 'fusegrad WebGPU (per node)', make: () => fusegradSession(problem, gpu, makeOptimizer(problem.lr), 'per-node') });
      // The compiled plan's threads for a full batch of n rows (runtime/cpu.ts decides the same way).
      const threads = threadsAvailable() ? defaultThreads(size.n, cores) : 1;
      const compiled = `compiled, ${threads} thread${threads > 1 ? 's' : ''}`;
      if (kind === 'cpu32') candidates.push({ row: `fusegrad CPU float32 (${compiled})`, make: () => fusegradSession(problem, new CpuBackend('f32'), makeOptimizer(problem.lr), 'compiled') });
      if (kind === 'cpu64') candidates.push({ row: `fusegrad CPU float64 (${compiled})`, make: () => fusegradSession(problem, new CpuBackend('f64'), makeOptimizer(problem.lr), 'compiled') });
      if (kind === 'cpu-reference') candidates.push({ row: 'fusegrad CPU float64 (reference interpreter)', make: () => fusegradSession(problem, new CpuBackend('f64'), makeOptimizer(problem.lr), 'reference') });
      if (kind === 'loop' && optimizer === 'sgd' && !problem.hidden.length) candidates.push({ row: 'plain TypeScript loop (Float32Array)', make: async () => plainLoop(problem) });
      if (optimizer === 'sgd') {
        for (const r of runners.get(kind) ?? []) candidates.push({ row: r.name, make: async () => (await r.setup(problem)) as PeerSession & Session });
      }
    }
    for (const c of candidates) {
      let session: Session | undefined;
      const counter = gpuCounter();
      try {
        session = await c.make();
        const inner = session;
        // Every epoch trained while the counter watches (warm-up and calibration included) divides the counts.
        let epochs = 0;
        const counted: Session = { train: (e) => ((epochs += e), inner.train(e)), dispose: () => inner.dispose() };
        const before = { ...counter.counts };
        const t = await timeSession(counted, { targetMs, runs, slowMs, ...(fixedEpochs ? { epochs: fixedEpochs } : {}) });
        const gpuRow = counter.counts.dispatches > before.dispatches;
        here.push({
          size: size.label,
          n: size.n,
          d: size.d,
          k: size.k,
          hidden: problem.hidden,
          row: c.row,
          msPerEpoch: t.median,
          min: t.min,
          max: t.max,
          runs: t.runs,
          epochsPerRun: t.units,
          epochsPerSecond: 1000 / t.median,
          dispatchesPerEpoch: gpuRow ? (counter.counts.dispatches - before.dispatches) / epochs : null,
          submitsPerEpoch: gpuRow ? (counter.counts.submits - before.submits) / epochs : null,
          gbps: bytes / (t.median * 1e6),
          floorRatio: t.median / (bytes / (bandwidth.gbps * 1e6)),
          gflops: flops / (t.median * 1e6),
          computeRatio: t.median / (flops / (compute.gflops * 1e6)),
          vsFastest: 0,
          lossAfter2: t.lossAfter2,
          lossAgrees: true,
          ...(session.note ? { note: session.note } : {}),
        });
        log(`bench: ${size.label} ${c.row}: ${fmt(t.median, 4)} ms/epoch`);
      } catch (err) {
        skipped.push({ row: `${size.label} ${c.row}`, why: (err as Error).message });
        log(`bench: ${size.label} ${c.row} failed: ${(err as Error).message}`);
      } finally {
        counter.restore();
        session?.dispose();
      }
    }
    const fastest = Math.min(...here.map((r) => r.msPerEpoch));
    const reference = (here.find((r) => r.row.includes('reference interpreter')) ?? here.find((r) => r.row.startsWith('fusegrad CPU float64')) ?? here[0])?.lossAfter2 ?? NaN;
    for (const r of here) {
      r.vsFastest = r.msPerEpoch / fastest;
      r.lossAgrees = Math.abs(r.lossAfter2 - reference) <= 1e-3 * Math.abs(reference);
    }
    out.push(...here);
  }
  gpu.dispose();
  return { date: new Date().toISOString(), adapter: gpu.description, bandwidth, compute, optimizer, rows: out, skipped };
}

/** The results as Markdown: one table per size. */
export function markdown(r: BenchResult): string {
  const lines = [`${r.adapter}; read bandwidth ${r.bandwidth.gbps.toFixed(2)} GB/s (${r.bandwidth.layout}); multiply-add ${r.compute.gflops.toFixed(1)} GFLOP/s; ${r.optimizer.toUpperCase()}; ${r.date.slice(0, 10)}`, ''];
  const header = ['size', 'row', 'ms/epoch (median)', 'min-max', 'epochs/s', 'dispatches/epoch', 'submits/epoch', 'GB/s', 'x floor', 'GFLOP/s', 'x compute', 'x fastest', 'loss check'];
  lines.push(
    table(
      header,
      r.rows.map((x) => [
        x.size,
        x.note ? `${x.row}, ${x.note}` : x.row,
        fmt(x.msPerEpoch, 4),
        `${fmt(x.min)}-${fmt(x.max)}`,
        fmt(x.epochsPerSecond),
        x.dispatchesPerEpoch === null ? '-' : fmt(x.dispatchesPerEpoch),
        x.submitsPerEpoch === null ? '-' : fmt(x.submitsPerEpoch),
        fmt(x.gbps),
        fmt(x.floorRatio),
        fmt(x.gflops),
        fmt(x.computeRatio),
        fmt(x.vsFastest),
        x.lossAgrees ? 'ok' : `differs: ${x.lossAfter2.toPrecision(6)}`,
      ]),
    ),
  );
  lines.push(
    '',
    'ms/epoch: median of the timed runs (each long enough to take ~0.3 s, after an untimed 2-epoch warm-up and a 1-epoch probe; rows slower than 1.5 s an epoch: 2 runs of 1 epoch), timed around a call that awaits a read of the device. Dispatches and submits are counted by wrapping WebGPU\'s dispatchWorkgroups and queue.submit, for the peers too. GB/s: the bytes an epoch must read (X and Y once, 4(d+k)n) over the epoch time; x floor: the epoch time over those bytes at the measured read bandwidth. GFLOP/s: the flops an epoch must do (per layer of in inputs and out units, 2n·in·out for the product, as many for the weights\' gradient and, past the first layer, for the input\'s) over the epoch time; x compute: the epoch time over those flops at the adapter\'s multiply-add rate measured in the same run (fma_rate.wgsl). A size NxDhH is a network of tanh layers of H units, every row started from the same seeded Glorot weights. Loss check: the loss after the first two epochs (from zero weights for the linear model) equals fusegrad CPU float64\'s within 1e-3.',
  );
  if (r.skipped.length) lines.push('', ...r.skipped.map((s) => `- skipped: ${s.row}: ${s.why}`));
  return lines.join('\n');
}
