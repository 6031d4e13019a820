/** @file Benchmark helpers: timing with warm-up, medians, the adapter's read bandwidth, tables and result files. */
import { mkdirSync } from 'node:fs';
import { writeAtomic } from '../cli/atomic.js';
import type { WebGpuBackend } from '../runtime/webgpu.js';

export interface Timing {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/**
 * Times `once(units)` (which must await the device's completion) and returns ms per unit: a
 * warm-up (pipelines compile on first use), then units grown 4x at a time until one run takes a
 * quarter of `targetMs`, scaled to about `targetMs`, then `runs` timed runs at that count.
 */
export async function timePerUnit(once: (units: number) => Promise<unknown>, { targetMs = 250, runs = 5, minUnits = 2, maxUnits = 20000 } = {}): Promise<Timing & { units: number }> {
  await once(minUnits);
  let units = minUnits;
  let ms = 0;
  for (;;) {
    const t = performance.now();
    await once(units);
    ms = performance.now() - t;
    if (ms >= targetMs / 4 || units >= maxUnits) break;
    units = Math.min(maxUnits, units * 4);
  }
  // Timed once more, the faster counting: one stalled call (lavapipe, or a collection) had sized a
  // 1000x4 row's runs to 4 epochs of ~0.04 ms each, where 7000 epochs take 0.006 ms each.
  const again = performance.now();
  await once(units);
  ms = Math.min(ms, performance.now() - again);
  units = Math.max(minUnits, Math.min(maxUnits, Math.round((units * targetMs) / Math.max(ms, 1e-3))));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await once(units);
    times.push((performance.now() - t) / units);
  }
  return { ...summarize(times), runs, units };
}

/** Median (the mean of the middle two for an even count), min and max. */
export function summarize(times: number[]): { median: number; min: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Read bandwidth of the adapter in GB/s: a plain streaming kernel over `bytes`, best of both layouts. */
export async function readBandwidth(backend: WebGpuBackend, bytes = 64 << 20): Promise<{ gbps: number; layout: string }> {
  const { device, kernels } = backend;
  const count = bytes / 16;
  const threads = 64 * 1024;
  const data = device.createBuffer({ size: bytes, usage: 0x80 });
  const sums = device.createBuffer({ size: 4 * threads, usage: 0x80 });
  let best = { gbps: 0, layout: '' };
  for (const [layout, groups] of [['contiguous', 32], ['strided', 1024]] as const) {
    const spec = { kernel: 'stream_read' as const, constants: { WG: 64, COUNT: count, CONTIGUOUS: layout === 'contiguous' }, access: ['read', 'rw'] as ('read' | 'rw')[] };
    const pipeline = await kernels.pipeline(spec);
    const bindGroup = device.createBindGroup({ layout: kernels.layout(spec.access), entries: [data, sums].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const t = await timePerUnit(async (n) => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      for (let i = 0; i < n; i++) pass.dispatchWorkgroups(groups);
      pass.end();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
    }, { targetMs: 300 });
    const gbps = bytes / (t.median * 1e6);
    if (gbps > best.gbps) best = { gbps, layout: `${layout}, ${groups} workgroups` };
  }
  data.destroy();
  sums.destroy();
  return best;
}

/**
 * Multiply-add rate of the adapter in GFLOP/s (an FMA counted as 2 flops): fma_rate.wgsl, four
 * register chains an invocation, over `groups` workgroups of 64; the compute floor's divisor.
 */
export async function computeRate(backend: WebGpuBackend, groups = 256, iter = 4096): Promise<{ gflops: number; groups: number }> {
  const { device, kernels } = backend;
  const sums = device.createBuffer({ size: 4 * 64 * groups, usage: 0x80 });
  const spec = { kernel: 'fma_rate' as const, constants: { WG: 64, ITER: iter }, access: ['rw'] as 'rw'[] };
  const pipeline = await kernels.pipeline(spec);
  const bindGroup = device.createBindGroup({ layout: kernels.layout(spec.access), entries: [{ binding: 0, resource: { buffer: sums } }] });
  const t = await timePerUnit(async (n) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(groups);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  }, { targetMs: 300, minUnits: 1 });
  sums.destroy();
  return { gflops: (32 * iter * 64 * groups) / (t.median * 1e6), groups };
}

export const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);

export function writeResults(name: string, adapter: string, payload: unknown, dir = argValue('--results') ?? 'bench/results'): string {
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const file = `${dir}/${date}-${slug(adapter)}-${name}.json`;
  writeAtomic(file, `${JSON.stringify(payload, null, 2)}\n`);
  return file;
}

/** The value after `flag` on the command line (`--results out/` for a device run whose files come back from out/). */
export function argValue(flag: string): string | undefined {
  const at = process.argv.indexOf(flag);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

/** A Markdown table, columns padded for the terminal. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export const fmt = (v: number, digits = 3) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toPrecision(digits) : v.toPrecision(2));
