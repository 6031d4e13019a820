/**
 * @file Checks the peer runners (TensorFlow.js, jax-js) before the benchmark trusts them: each
 * trains a small deterministic problem and must land on the loss of a float64 SGD reference
 * computed here, and then shows a rough ms/epoch at n = 100000, d = 16 to show it works at scale.
 * Exits non-zero when a runner fails or disagrees.
 *
 *   node scripts/build.mjs --no-types && node dist/bench/peers-check.js
 */
import { installNavigator } from './peers/node-navigator.js';
import type { PeerProblem, PeerRunner } from './peers/types.js';

const TOLERANCE = 1e-4;

/** A fixed linear target with a little noise, from a seeded generator, so every run sees the same data. */
function makeProblem(n: number, d: number, k: number, lr: number, seed = 12345): PeerProblem {
  let state = seed >>> 0;
  const uniform = (): number => {
    // Numerical Recipes' 32-bit LCG: plenty for test data, identical on every platform.
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const X = new Float32Array(n * d);
  const Y = new Float32Array(n * k);
  for (let i = 0; i < X.length; i++) X[i] = 2 * uniform() - 1;
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < k; o++) {
      let y = 0.5 - 0.25 * o;
      for (let j = 0; j < d; j++) y += X[i * d + j]! * ((j + 1) / d) * (o % 2 === 0 ? 1 : -1);
      Y[i * k + o] = y + 0.1 * (uniform() - 0.5);
    }
  }
  return { n, d, k, hidden: [], init: [new Float32Array(k * d), new Float32Array(k)], X, Y, lr };
}

/** The same full-batch SGD in float64: the loss of the last epoch, taken before its update. */
function referenceLoss({ n, d, k, X, Y, lr }: PeerProblem, epochs: number): number {
  const W = new Float64Array(k * d);
  const b = new Float64Array(k);
  let loss = NaN;
  for (let e = 0; e < epochs; e++) {
    const gW = new Float64Array(k * d);
    const gb = new Float64Array(k);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < k; o++) {
        let pred = b[o]!;
        for (let j = 0; j < d; j++) pred += X[i * d + j]! * W[o * d + j]!;
        const r = pred - Y[i * k + o]!;
        sum += r * r;
        const g = (2 * r) / (n * k);
        gb[o] += g;
        for (let j = 0; j < d; j++) gW[o * d + j] += g * X[i * d + j]!;
      }
    }
    loss = sum / (n * k);
    for (let i = 0; i < W.length; i++) W[i] -= lr * gW[i]!;
    for (let o = 0; o < k; o++) b[o] -= lr * gb[o]!;
  }
  return loss;
}

/** Trains `chunks` epochs in consecutive train() calls, which must continue from the current weights. */
async function checkRunner(runner: PeerRunner, p: PeerProblem, chunks: number[]): Promise<{ ok: boolean; line: string }> {
  const epochs = chunks.reduce((a, c) => a + c, 0);
  const want = referenceLoss(p, epochs);
  const session = await runner.setup(p);
  try {
    let got = NaN;
    for (const c of chunks) got = await session.train(c);
    const rel = Math.abs(got - want) / Math.abs(want);
    const ok = Number.isFinite(got) && rel <= TOLERANCE;
    return { ok, line: `${ok ? 'ok  ' : 'FAIL'} loss ${got.toPrecision(8)} vs f64 ${want.toPrecision(8)}, rel diff ${rel.toExponential(2)}` };
  } finally {
    session.dispose();
  }
}

async function timeRunner(runner: PeerRunner, p: PeerProblem, epochs: number): Promise<string> {
  let t = performance.now();
  const session = await runner.setup(p);
  const setupMs = performance.now() - t;
  try {
    // Pipelines and jit traces compile on the first epochs; they are not what is timed.
    await session.train(2);
    t = performance.now();
    const loss = await session.train(epochs);
    const ms = (performance.now() - t) / epochs;
    if (!Number.isFinite(loss)) throw new Error(`loss is ${loss}`);
    return `${ms.toFixed(2)} ms/epoch (setup ${setupMs.toFixed(0)} ms, loss ${loss.toPrecision(5)})`;
  } finally {
    session.dispose();
  }
}

async function main(): Promise<number> {
  await installNavigator();
  // Only after installNavigator(): the peers look for navigator.gpu when they load.
  const { tfjsRunners } = await import('./peers/tfjs.js');
  const { jaxRunners } = await import('./peers/jaxjs.js');
  const runners = [...(await tfjsRunners()), ...(await jaxRunners())];
  const width = Math.max(...runners.map((r) => r.name.length));
  let failed = 0;

  const cases: { label: string; p: PeerProblem; chunks: number[] }[] = [
    { label: 'n=64 d=4 k=1, 5 epochs', p: makeProblem(64, 4, 1, 0.05), chunks: [5] },
    // Two outputs' worth of W and b, and two train() calls that must continue from the weights.
    { label: 'n=64 d=4 k=3, 2+3 epochs', p: makeProblem(64, 4, 3, 0.05), chunks: [2, 3] },
  ];
  for (const { label, p, chunks } of cases) {
    console.log(`correctness, ${label}, lr ${p.lr} (tolerance ${TOLERANCE}):`);
    for (const runner of runners) {
      try {
        const { ok, line } = await checkRunner(runner, p, chunks);
        if (!ok) failed++;
        console.log(`  ${runner.name.padEnd(width)}  ${line}`);
      } catch (err) {
        failed++;
        console.log(`  ${runner.name.padEnd(width)}  FAIL ${(err as Error).message}`);
      }
    }
  }

  const big = makeProblem(100000, 16, 1, 0.05);
  console.log('timing, n=100000 d=16 k=1, 20 epochs after 2 warm-up epochs:');
  for (const runner of runners) {
    try {
      console.log(`  ${runner.name.padEnd(width)}  ${await timeRunner(runner, big, 20)}`);
    } catch (err) {
      failed++;
      console.log(`  ${runner.name.padEnd(width)}  FAIL ${(err as Error).message}`);
    }
  }
  console.log(failed ? `${failed} check(s) failed` : 'all peer runners agree with the f64 reference');
  return failed ? 1 : 0;
}

// An explicit exit: Dawn's GPU object, held for the process's life, keeps the event loop alive.
main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
