/**
 * @file How kernels are laid out on an adapter, and the limits the planners plan within: one
 * place for every per-adapter choice (`layoutFor`), each made by measurement.
 */

/** How kernels are laid out on this adapter, and the limits the planner plans within. */
export interface Layout {
  /** Invocations per workgroup for the one-kernel-per-node plan (a power of two). */
  workgroupSize: number;
  /** Most workgroups a grid-stride kernel launches along x. */
  maxGroups: number;
  /** Workgroups per dimension the device allows. */
  maxGroupsPerDim: number;
  /** Storage buffers one kernel may bind. */
  maxStorageBuffers: number;
  /** Largest storage binding, in bytes. */
  maxBindingBytes: number;
  /** Workgroup shared memory, in bytes. */
  maxWorkgroupBytes: number;
  /** How the row passes deal out rows: `contiguous` runs per invocation (CPU adapters) or a grid stride (`strided`). */
  rows: 'contiguous' | 'strided';
  /** Workgroups of a row pass with the contiguous layout. */
  contiguousGroups: number;
  /** Most workgroups of a row pass with the strided layout. */
  stridedGroups: number;
  /** Largest (rows + validation rows) x sums over rows trained by the single-dispatch plan. */
  tinyMaxWork: number;
  /**
   * Largest workgroup of the single-dispatch kernel (a power of two). A GPU wants many lanes on
   * a batch; a CPU adapter runs a workgroup on one thread, and every barrier of a workgroup wider
   * than its SIMD width costs a switch between the groups of lanes.
   */
  tinyWorkgroup: number;
  /** Epochs one dispatch of the single-dispatch kernel runs at most (keeps a dispatch short). */
  epochsPerDispatch: number;
  /**
   * Replicates past `tinyMaxWork`: `fused` spreads each one's rows over many workgroups of the
   * fused plan's row passes (a GPU would leave most of itself idle with a few workgroups; on lavapipe it
   * was 1.3-2.1x faster too); `tiny` keeps one workgroup each.
   */
  bigReplicas: 'tiny' | 'fused';
  /** How generated kernels read a row: the wide inputs' values as `vec4` (the narrow ones' as floats), or all as `scalar` floats. */
  rowLoads: 'vec4' | 'scalar';
  /** Batches of at most this many rows train in the serial form of the single-dispatch plan (one invocation, no barriers); 0: never. */
  serialMaxRows: number;
  /**
   * The widest value the generated kernels write out element by element (a line per value); a
   * wider one is an array filled in a loop, a longer sum a loop (compile/emit.ts).
   */
  unroll: number;
  /**
   * The most terms the row code writes out (compile/emit.ts straightTerms): over it, the planner
   * halves the unroll limit until the code fits (down to 4).
   */
  straightTerms: number;
  /**
   * Lanes of a subgroup that share a wide row (compile/team.ts), where the adapter has subgroups of
   * one fixed size; 0: every lane walks rows of its own.
   */
  teamLanes: number;
  /** The narrowest data input a team shares (values per row). */
  teamMinWidth: number;
}

export const DEFAULT_LAYOUT: Layout = {
  workgroupSize: 64,
  maxGroups: 256,
  maxGroupsPerDim: 65535,
  maxStorageBuffers: 8,
  maxBindingBytes: 128 * 1024 * 1024,
  maxWorkgroupBytes: 16384,
  rows: 'strided',
  contiguousGroups: 32,
  stridedGroups: 1024,
  tinyMaxWork: 1 << 16,
  tinyWorkgroup: 64,
  epochsPerDispatch: 5000,
  bigReplicas: 'fused',
  rowLoads: 'vec4',
  serialMaxRows: 0,
  unroll: 32,
  straightTerms: 1024,
  teamLanes: 0,
  teamMinWidth: 32,
};

/** CPU-based adapters (lavapipe, llvmpipe, SwiftShader, WARP): a workgroup runs on one thread, in SIMD vectors. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software|warp/i;

/**
 * The layout for an adapter: its limits, and each choice where adapters differ, made by
 * measurement (bench/layouts.ts and the benchmark's results in bench/results/ have the numbers):
 * - rows: a GPU takes a grid stride over many workgroups; a CPU adapter reads rows fastest with few
 *   workgroups whose invocations each read their own run of rows (from 65536 rows a timed trial at
 *   compile time checks, runtime/trial.ts), two per thread: each has fewer rows' ends to meet
 *   (a tree of sums, a row of partials) than 16-64 workgroups, and every thread still has two;
 * - tinyWorkgroup: on a CPU adapter one vector of f32 lanes (llvmpipe names its width, "256-bits":
 *   8), so that a barrier has no other group of lanes to switch to;
 * - serialMaxRows: on a CPU adapter, batches of up to 64 rows run faster in one invocation with no
 *   barrier at all than in a workgroup of lanes (the layouts table: 5 and 32 rows faster serial,
 *   128 faster in lanes); a GPU is not measured yet, and keeps its lanes;
 * - unroll: row code written out a line a value up to 32 values, loops past that (lavapipe, shader
 *   cache off, 1e5 rows, bench/width.ts: straight-line row code trains 2-5x faster than loops over
 *   private arrays, but a hidden layer of 64 written out took 210 s to compile and 128 features
 *   32 s; 32 is a first choice between the two, not yet a tuned one); a GPU is not measured yet;
 * - straightTerms: at most 1024 terms of row code written out, else the unroll limit halves
 *   (2026-12-07, same bench, 1e5 rows: 16 features and a hidden layer of 16, 578 terms, compiled
 *   in 52 s and trained 11.1 ms an epoch written out, 6.8 s and 59.8 ms with loops past 8 values:
 *   the loops pay back after ~900 epochs, so it stays written out; a hidden layer of 32, ~1150
 *   terms, gets 16 values, and two hidden layers 16 -> 32 -> 24, ~3500 terms, whose written-out
 *   kernels took minutes, get 16 too);
 * - teamLanes: on a CPU adapter with subgroups of one size (lavapipe: 8), a row of 32 values or
 *   more is shared by a subgroup's lanes (compile/team.ts; hand-written kernels of a linear
 *   model's gradient pass, shader cache off: 1e5 x 64 in 4.2 ms, 1e5 x 256 in 15 ms, 1e4 x 1024
 *   in 12.7 ms, against 6.9, 45-52 and 17 ms with a row per lane and 3.5, 13 and 7.8 ms for reading
 *   the rows alone; at 16 values a team was slower, 3.7 against 3.0 ms); a GPU is not measured yet;
 * - rowLoads: vec4 for the wide inputs on every adapter (lavapipe gathers each lane's scalar load,
 *   so a vec4 is one gather for four values; on a GPU, vector loads of consecutive rows are what
 *   coalescing wants too).
 */
export function layoutFor(description: string, limits: GPUSupportedLimits, cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 2, subgroup = 0): Layout {
  const software = SOFTWARE_ADAPTER.test(description);
  const bits = Number(/(\d+)-bits/.exec(description)?.[1]);
  return {
    ...DEFAULT_LAYOUT,
    maxGroupsPerDim: limits.maxComputeWorkgroupsPerDimension,
    maxStorageBuffers: limits.maxStorageBuffersPerShaderStage,
    maxBindingBytes: Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize),
    maxWorkgroupBytes: limits.maxComputeWorkgroupStorageSize,
    rows: software ? 'contiguous' : 'strided',
    contiguousGroups: 2 * Math.max(1, cores),
    tinyWorkgroup: software ? (bits >= 128 && bits <= 1024 ? bits / 32 : 8) : DEFAULT_LAYOUT.tinyWorkgroup,
    serialMaxRows: software ? 64 : 0,
    rowLoads: 'vec4',
    teamLanes: software && subgroup >= 4 ? subgroup : 0,
  };
}
