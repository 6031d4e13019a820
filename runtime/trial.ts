/**
 * @file Picks the row layout of the fused row kernel per adapter by timing both on the real
 * shapes: a CPU adapter (lavapipe) was ~3x faster with few workgroups each reading contiguous rows,
 * a GPU wants a grid stride over many workgroups. Small problems keep the adapter's default; a
 * trial's answer is cached per adapter and shape for the life of the process. A trial walks at
 * most TRIAL_WORDS of rows a dispatch (the first rows of the first chunk): at 1e5 x 1024 a timed
 * dispatch of the whole chunk took about a second, ten of them a tenth of the compile (most of the
 * rest is the driver compiling the pipeline at its first dispatch, which no cap changes).
 */
import type { Layout } from '../compile/layout.js';
import type { Plan } from '../compile/plan.js';
import type { WebGpuBackend } from './webgpu.js';

/** Below this many rows the layouts differ by microseconds: no trial. */
export const TRIAL_MIN_ROWS = 1 << 16;
const TIMED_DISPATCHES = 5;
/** The most words of rows one timed dispatch reads (16 MiB), and the fewest rows it walks. */
const TRIAL_WORDS = 1 << 22;
const TRIAL_FLOOR_ROWS = 4096;

export interface RowsChoice {
  rows: Layout['rows'];
  /** How it was chosen, for the plan's notes. */
  why: string;
}

const chosen = new Map<string, RowsChoice>();

/** Times the first row pass of `plan(layout)` under each row layout, for a program of `rows` data rows. */
export async function chooseRowsLayout(backend: WebGpuBackend, rows: number, plan: (layout: Layout) => Plan, layout: Layout): Promise<RowsChoice> {
  if (rows < TRIAL_MIN_ROWS) return { rows: layout.rows, why: `the adapter's default below ${TRIAL_MIN_ROWS} rows` };
  const first = plan(layout).train.steps[0]!;
  const key = `${backend.description}|${rows}|${first.spec.holes?.ROW ?? ''}|${JSON.stringify(first.spec.constants)}|${layout.maxBindingBytes}`;
  const hit = chosen.get(key);
  if (hit) return hit;
  const times: [Layout['rows'], number][] = [];
  for (const rows of ['contiguous', 'strided'] as const) {
    times.push([rows, await timeRowKernel(backend, plan({ ...layout, rows }))]);
  }
  const best = times.reduce((a, b) => (b[1] < a[1] ? b : a))[0];
  const choice = { rows: best, why: `a timed trial: ${times.map(([r, ms]) => `${r} ${ms.toFixed(3)} ms`).join(', ')}` };
  chosen.set(key, choice);
  return choice;
}

/** A chunk's block for the trial: its first rows, at most TRIAL_WORDS of them (at least TRIAL_FLOOR_ROWS). */
export function trialBlock(block: Record<string, number>, bytesRead: number): Record<string, number> {
  const rows = block.rows!;
  const rowWords = Math.max(1, bytesRead / 4 / Math.max(1, rows));
  return { ...block, rows: Math.min(rows, Math.max(TRIAL_FLOOR_ROWS, Math.floor(TRIAL_WORDS / rowWords))) };
}

/** Median-free, honest enough for a choice: the mean time of a few dispatches of the first row kernel, after a warm-up. */
async function timeRowKernel(backend: WebGpuBackend, plan: Plan): Promise<number> {
  const { device, kernels } = backend;
  const step = plan.train.steps[0]!;
  // Storage buffers (GPUBufferUsage.STORAGE) of the right sizes; the chunk's uniform block
  // (UNIFORM | COPY_DST) holds its words, which say which rows the kernel walks and how: here the
  // chunk's first rows, as many as TRIAL_WORDS hold (its bytes read over its rows: a row's words).
  const buffers = step.bindings.map((b) => {
    const decl = plan.buffers[b.buffer]!;
    const buffer = device.createBuffer({ size: Math.max(4, 4 * decl.words), usage: decl.uniform ? 0x40 | 0x08 : 0x80 });
    if (decl.uniform) device.queue.writeBuffer(buffer, 0, new Uint32Array(Object.values(trialBlock(decl.uniform, step.bytes.read))));
    return buffer;
  });
  try {
    const pipeline = await kernels.pipeline(step.spec);
    const bindGroup = device.createBindGroup({ layout: kernels.layout(step.spec.access), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const run = async (times: number) => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      for (let i = 0; i < times; i++) pass.dispatchWorkgroups(step.groups[0], step.groups[1]);
      pass.end();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await run(1);
    const start = performance.now();
    await run(TIMED_DISPATCHES);
    return (performance.now() - start) / TIMED_DISPATCHES;
  } finally {
    for (const b of buffers) b.destroy();
  }
}
