/**
 * @file The one-kernel-per-node planner: runs any graph, each node its own hand-written kernel
 * (read off the node's lowering in the op table), then the loss record and one update kernel per
 * parameter; minibatches on the graph replayed at the batch's rows, and a validation set on its
 * own replay. The unfused baseline for the benchmark and for teaching, and the plan for a graph
 * the compiler does not fuse.
 */
import { replay } from '../autograd/replay.js';
import type { Graph, Node } from '../engine/graph.js';
import { type Coord, type Lowering, OPS, type OpKind, type Rendered, reductionLayout } from '../engine/ops.js';
import { asMatrix, broadcastStrides, fmtShape, sizeOf } from '../engine/shape.js';
import type { KernelSpec } from '../wgsl/kernels.js';
import { CONTROL_WGSL, EPOCH_WGSL, RULES, wgslFloat } from '../wgsl/kernels.js';
import { feistelHalf } from '../wgsl/shuffle.js';
import { DEFAULT_LAYOUT, type Layout } from './layout.js';
import { type Binding, type BufferDecl, type Plan, PlanError, type Segment, type Step, trainingBuffers } from './plan.js';
import { batchesPerEpoch, type Program, shortBatch } from './program.js';

/** Inner dimensions above this run as split-K (a tree over K) instead of one loop per output. */
export const SPLIT_K_ABOVE = 256;
/** A reduction's per-workgroup slice aims at this many elements per invocation before the tree. */
const ITEMS_PER_INVOCATION = 8;
/** Partials per output in the first pass of a two-pass reduction, at most. */
const MAX_PARTIALS = 1024;
/**
 * A tiled product splits its sum over K until its blocks times the slices fill this many lanes
 * (64 workgroups of 64), each slice at least TILE_MIN_DEPTH deep: a weight gradient with few
 * outputs (64 x 16: 64 blocks) then still spreads its rows over the adapter.
 */
const TILE_LANES = 4096;
const TILE_MIN_DEPTH = 64;
/**
 * The subgroup size matmul_team.wgsl is written for (lavapipe's: a workgroup of one SIMD vector),
 * and the workgroups its bands and slices aim to fill.
 */
const TEAM_LANES = 8;
const TEAM_WORKGROUPS = 64;
/** A column sum's lane adds about this many rows before its partial is written. */
const COLSUM_ROWS_PER_LANE = 64;

/** Workgroups for a kernel with a lane per item (a grid-stride loop past the layout's most groups). */
const lanes = (count: number, layout: Layout): [number, number] => [Math.max(1, Math.min(Math.ceil(count / layout.workgroupSize), layout.maxGroups)), 1];

/** A node's attributes with every number written as a WGSL f32 literal, for its op's lowering. */
export function renderAttrs<A>(attrs: A): Rendered<A> {
  return Object.fromEntries(Object.entries(attrs as object).map(([k, v]) => [k, typeof v === 'number' ? wgslFloat(v) : v])) as Rendered<A>;
}

/**
 * How one graph's nodes are stored and computed: where each lives (`shared` gives a node a place
 * that another graph's node already has, as a minibatch's parameters are the model's) and one
 * kernel per node, in order. `idOf` names a node by its id in the program's graph (a replay's
 * nodes are named as the program's), and `tag` marks the buffers this graph adds.
 */
function lowerNodes(
  graph: Graph,
  buffers: BufferDecl[],
  layout: Layout,
  { shared = () => undefined, idOf = (id) => id, tag = '' }: { shared?: (n: Node) => Segment[] | undefined; idOf?: (id: number) => number | undefined; tag?: string } = {},
): { places: Map<number, Segment[]>; steps: Step[] } {
  const places = new Map<number, Segment[]>();
  const steps: Step[] = [];
  const { nodes } = graph;
  const WG = layout.workgroupSize;
  const stride = (count: number) => lanes(count, layout);

  /** A node as the plan names it: its id in the program's graph. */
  const at = (n: Node) => `%${idOf(n.id) ?? n.id}`;
  for (const n of nodes) {
    const lower = OPS[n.op].lower;
    if (lower.kind === 'view' && lower.alias) {
      places.set(n.id, places.get(n.inputs[0]!)!);
      continue;
    }
    const given = shared(n);
    if (given) {
      places.set(n.id, given);
      continue;
    }
    const words = sizeOf(n.shape);
    const name = (n.attrs as { name?: string }).name;
    const decl: BufferDecl = { label: `${name === undefined ? at(n) : `${n.op} ${name}`}${tag}`, words };
    if (lower.kind === 'leaf' && lower.fill) decl.fill = (lower.fill as (attrs: unknown) => number)(n.attrs);
    places.set(n.id, [{ buffer: buffers.push(decl) - 1, offset: 0, words }]);
  }
  const buf = (id: number) => places.get(id)![0]!.buffer;
  const read = (id: number): Binding => ({ buffer: buf(id), access: 'read' });
  const write = (id: number): Binding => ({ buffer: buf(id), access: 'rw' });
  const bytesOf = (ids: number[]) => ids.reduce((s, i) => s + 4 * sizeOf(nodes[i]!.shape), 0);
  const push = (n: Node, label: string, spec: Omit<KernelSpec, 'access'>, bindings: Binding[], groups: [number, number], bytes: Step['bytes']) =>
    steps.push({ label, nodes: idOf(n.id) === undefined ? [] : [idOf(n.id)!], spec: { ...spec, access: bindings.map((b) => b.access) }, bindings, groups, bytes });
  const scratch = (label: string, words: number): Binding => ({ buffer: buffers.push({ label: `${label}${tag}`, words }) - 1, access: 'rw' });

  /** Second pass of a two-pass sum: adds the `groups` partials of each of `outCount` outputs. */
  const sumPartials = (n: Node, partials: Binding, outCount: number, groups: number, scale: number) =>
    push(
      n,
      `${at(n)} ${n.op}${fmtShape(n.shape)} (sum partials)`,
      { kernel: 'reduce', constants: { WG, OUT_COUNT: outCount, COUNT: groups, OUT_STRIDE: groups, STRIDE: 1, GROUPS: 1, SCALE: scale } },
      [{ ...partials, access: 'read' }, write(n.id)],
      [1, Math.min(outCount, layout.maxGroupsPerDim)],
      { read: 4 * outCount * groups, written: 4 * outCount },
    );

  /** Second pass of a sum split in `count` slices whose partials lie slice after slice: a lane per output. */
  const addSlices = (n: Node, partials: Binding, outCount: number, count: number, scale: number) =>
    push(
      n,
      `${at(n)} ${n.op}${fmtShape(n.shape)} (add ${count} slices)`,
      { kernel: 'partials', constants: { WG, OUT_COUNT: outCount, COUNT: count, SCALE: scale } },
      [{ ...partials, access: 'read' }, write(n.id)],
      stride(outCount),
      { read: 4 * outCount * count, written: 4 * outCount },
    );

  /**
   * A kernel (`label (how)` in the plan) that sums in `count` slices: with one, straight into n's
   * buffer; with more, into slice-major partials (`names.partials` in the label, `names.scratch`
   * as the buffer's) that addSlices then adds, scaled.
   */
  const inSlices = (
    n: Node,
    label: string,
    names: { how: string; partials: string; scratch: string },
    spec: Omit<KernelSpec, 'access'>,
    operands: Binding[],
    dispatch: [number, number],
    bytes: Step['bytes'],
    outCount: number,
    count: number,
    scale: number,
  ) => {
    if (count === 1) {
      push(n, `${label} (${names.how})`, spec, [...operands, write(n.id)], dispatch, bytes);
      return;
    }
    const partials = scratch(`${at(n)} ${names.scratch}`, outCount * count);
    push(n, `${label} (${names.how}, ${names.partials})`, spec, [...operands, partials], dispatch, { read: bytes.read, written: 4 * outCount * count });
    addSlices(n, partials, outCount, count, scale);
  };

  /** out[j] = scale * sum_r w(r) V(r, j) over a row-major matrix with columns in vec4s (colsum.wgsl). */
  const columnSums = (
    n: Node,
    label: string,
    m: { rows: number; cols: number; rowStride: number; matrix: number; weights?: { id: number; stride: number } },
    scale: number,
    bytes: Step['bytes'],
  ) => {
    const blocks = m.cols / 4;
    const lanesPerBlock = Math.max(1, Math.floor(WG / Math.min(blocks, WG)));
    const slices = Math.max(1, Math.min(Math.ceil(m.rows / (lanesPerBlock * COLSUM_ROWS_PER_LANE)), MAX_PARTIALS));
    const count = slices * lanesPerBlock;
    const constants = { WG, R: m.rows, C: m.cols, V_ROW: m.rowStride, WEIGHTED: m.weights !== undefined, W_STRIDE: m.weights?.stride ?? 1, GROUPS: slices, SCALE: count > 1 ? 1 : scale };
    const operands = [read(m.matrix), read(m.weights?.id ?? m.matrix)];
    const dispatch: [number, number] = [Math.ceil(blocks / Math.min(blocks, WG)), slices];
    inSlices(n, label, { how: 'column sums', partials: 'partials', scratch: 'column-sum partials' }, { kernel: 'colsum', constants }, operands, dispatch, bytes, m.cols, count, scale);
  };

  for (const n of nodes) {
    const lower = OPS[n.op].lower as Lowering<OpKind>;
    const ins = n.inputs.map((i) => nodes[i]!);
    const label = `${at(n)} ${n.op}${fmtShape(n.shape)}`;
    const bytes = { read: bytesOf(n.inputs as number[]), written: 4 * sizeOf(n.shape) };
    switch (lower.kind) {
      case 'leaf':
        break;
      case 'view':
      case 'map': {
        // An aliasing view shares its operand's buffer (planned above): nothing to run.
        if (lower.kind === 'view' && lower.alias) break;
        const [rows, cols] = asMatrix(n.shape);
        let strides: [number, number] = [cols, 1];
        let apply = 'x';
        if (lower.kind === 'view') {
          // A view copies through strides read off its index mapping (it maps positions linearly).
          const inCols = asMatrix(ins[0]!.shape)[1];
          const flat = (at: Coord) => {
            // Literal positions map to literal positions.
            const [i, j] = lower.source(n.attrs, ins[0]!.shape, n.shape, at) as [number, number];
            return i * inCols + j;
          };
          strides = [flat([1, 0]) - flat([0, 0]), flat([0, 1]) - flat([0, 0])];
        } else {
          apply = lower.wgsl('x', renderAttrs(n.attrs));
          if ((rows * cols) % 4 === 0) {
            // An elementwise op over a whole buffer: a vec4 a lane (map4.wgsl).
            const spec = { kernel: 'map4' as const, holes: { APPLY: apply }, constants: { WG, COUNT4: (rows * cols) / 4 } };
            push(n, `${label} (vec4)`, spec, [read(n.inputs[0]!), write(n.id)], stride((rows * cols) / 4), bytes);
            break;
          }
        }
        const constants = { WG, ROWS: rows, COLS: cols, A_ROW_STRIDE: strides[0], A_COL_STRIDE: strides[1] };
        push(n, label, { kernel: 'map', holes: { APPLY: apply }, constants }, [read(n.inputs[0]!), write(n.id)], stride(rows * cols), bytes);
        break;
      }
      case 'zip': {
        const sa = broadcastStrides(ins[0]!.shape, n.shape);
        const sb = broadcastStrides(ins[1]!.shape, n.shape);
        // Along the columns in vec4s (zip4.wgsl): each operand read along them (its rows whole
        // vec4s) or broadcast along them (the backend sizes every buffer in whole vec4s).
        const vec4 = (st: typeof sa) => st.colStride === 0 || st.rowStride % 4 === 0;
        if (sa.cols % 4 === 0 && vec4(sa) && vec4(sb)) {
          const constants = { WG, ROWS: sa.rows, COLS: sa.cols, A_ROW_STRIDE: sa.rowStride, A_SPLAT: sa.colStride === 0, B_ROW_STRIDE: sb.rowStride, B_SPLAT: sb.colStride === 0 };
          const spec = { kernel: 'zip4' as const, holes: { COMBINE: lower.wgsl('x', 'y') }, constants };
          push(n, `${label} (vec4)`, spec, [read(n.inputs[0]!), read(n.inputs[1]!), write(n.id)], stride((sa.rows * sa.cols) / 4), bytes);
          break;
        }
        const constants = { WG, ROWS: sa.rows, COLS: sa.cols, A_ROW_STRIDE: sa.rowStride, A_COL_STRIDE: sa.colStride, B_ROW_STRIDE: sb.rowStride, B_COL_STRIDE: sb.colStride };
        const spec = { kernel: 'zip' as const, holes: { COMBINE: lower.wgsl('x', 'y') }, constants };
        push(n, label, spec, [read(n.inputs[0]!), read(n.inputs[1]!), write(n.id)], stride(sa.rows * sa.cols), bytes);
        break;
      }
      case 'contract': {
        const [transA, transB] = lower.trans(n.attrs);
        const [a, b] = ins as [Node, Node];
        const [M, N] = n.shape as [number, number];
        const K = transA ? a.shape[0]! : a.shape[1]!;
        // A(i, p) = a[i * A_I + p * A_K], B(p, j) = b[p * B_K + j * B_J].
        const strides = { A_I: transA ? 1 : a.shape[1]!, A_K: transA ? a.shape[1]! : 1, B_K: transB ? 1 : b.shape[1]!, B_J: transB ? b.shape[1]! : 1 };
        const operands = [read(a.id), read(b.id)];
        if (layout.teamLanes === TEAM_LANES && M % 8 === 0 && N % 4 === 0 && K % 4 === 0) {
          // A subgroup computes an 8-row band, A's block read once and broadcast (matmul_team.wgsl).
          const teams = (M / 8) * Math.ceil(N / 4 / TEAM_LANES);
          const groups = Math.max(1, Math.min(Math.ceil(TEAM_WORKGROUPS / teams), Math.floor(K / TILE_MIN_DEPTH), MAX_PARTIALS));
          const constants = { LANES: TEAM_LANES, M, N, K, ...strides, A_ALONG_P: strides.A_K === 1, B_ALONG_P: strides.B_K === 1, GROUPS: groups };
          const dispatch: [number, number] = [Math.min(teams, layout.maxGroupsPerDim), groups];
          const names = { how: '8-row bands by a subgroup', partials: 'split-K partials', scratch: 'split-K partials' };
          inSlices(n, label, names, { kernel: 'matmul_team', constants }, operands, dispatch, bytes, M * N, groups, 1);
          break;
        }
        if (M % 4 === 0 && N % 4 === 0 && K % 4 === 0) {
          // 4 x 8 (or 4 x 4) blocks read as vec4s along each operand's contiguous axis (matmul_tile.wgsl).
          const wide = N % 8 === 0;
          const blocks = (M / 4) * (N / (wide ? 8 : 4));
          const groups = Math.max(1, Math.min(Math.ceil(TILE_LANES / blocks), Math.floor(K / TILE_MIN_DEPTH), MAX_PARTIALS));
          const constants = { WG, M, N, K, ...strides, A_ALONG_P: strides.A_K === 1, B_ALONG_P: strides.B_K === 1, GROUPS: groups, WIDE: wide };
          const dispatch: [number, number] = [stride(blocks)[0], groups];
          const names = { how: wide ? '4x8 tiles' : '4x4 tiles', partials: 'split-K partials', scratch: 'split-K partials' };
          inSlices(n, label, names, { kernel: 'matmul_tile', constants }, operands, dispatch, bytes, M * N, groups, 1);
          break;
        }
        if (K === 1 && N % 4 === 0 && strides.B_J === 1) {
          // An outer product (a layer's input gradient through one output, e W): a zip of A's column
          // broadcast along B's row, in vec4s (zip4.wgsl).
          const constants = { WG, ROWS: M, COLS: N, A_ROW_STRIDE: strides.A_I, A_SPLAT: true, B_ROW_STRIDE: 0, B_SPLAT: false };
          push(n, `${label} (outer product, vec4)`, { kernel: 'zip4', holes: { COMBINE: 'x * y' }, constants }, [...operands, write(n.id)], stride((M * N) / 4), bytes);
          break;
        }
        if (M === 1 && !transB && N % 4 === 0) {
          // A row times a matrix (a one-output layer's weight gradient eᵀ H): a weighted sum of B's rows.
          columnSums(n, label, { rows: K, cols: N, rowStride: strides.B_K, matrix: b.id, weights: { id: a.id, stride: strides.A_K } }, 1, bytes);
          break;
        }
        if (K <= SPLIT_K_ABOVE) {
          push(n, label, { kernel: 'matmul', constants: { WG, M, N, K, ...strides } }, [...operands, write(n.id)], stride(M * N), bytes);
          break;
        }
        const groups = Math.min(Math.ceil(K / (WG * ITEMS_PER_INVOCATION)), MAX_PARTIALS);
        const partials = scratch(`${at(n)} split-K partials`, M * N * groups);
        const spec = { kernel: 'matmul_splitk' as const, constants: { WG, M, N, K, ...strides, GROUPS: groups } };
        push(n, `${label} (split-K partials)`, spec, [...operands, partials], [groups, Math.min(M * N, layout.maxGroupsPerDim)], { read: bytes.read, written: 4 * M * N * groups });
        sumPartials(n, partials, M * N, groups, 1);
        break;
      }
      case 'reduce': {
        const l = reductionLayout(ins[0]!.shape, lower.axis(n.attrs));
        const scale = lower.mean ? 1 / l.count : 1;
        if (ins[0]!.shape.length === 2 && lower.axis(n.attrs) === 0 && l.outCount % 4 === 0) {
          // A sum over rows (a bias's gradient): lanes own vec4s of columns (colsum.wgsl).
          columnSums(n, label, { rows: l.count, cols: l.outCount, rowStride: l.outCount, matrix: ins[0]!.id }, scale, bytes);
          break;
        }
        const groups = Math.min(Math.ceil(l.count / (WG * ITEMS_PER_INVOCATION)), MAX_PARTIALS);
        const ys = Math.min(l.outCount, layout.maxGroupsPerDim);
        const base = { WG, OUT_COUNT: l.outCount, COUNT: l.count, OUT_STRIDE: l.outStride, STRIDE: l.stride };
        if (groups <= 1) {
          push(n, label, { kernel: 'reduce', constants: { ...base, GROUPS: 1, SCALE: scale } }, [read(n.inputs[0]!), write(n.id)], [1, ys], bytes);
          break;
        }
        const partials = scratch(`${at(n)} partials`, l.outCount * groups);
        push(n, `${label} (partials)`, { kernel: 'reduce', constants: { ...base, GROUPS: groups, SCALE: 1 } }, [read(n.inputs[0]!), partials], [groups, ys], { read: bytes.read, written: 4 * l.outCount * groups });
        sumPartials(n, partials, l.outCount, groups, scale);
        break;
      }
      default: {
        const never: never = lower;
        throw new Error(`no lowering ${JSON.stringify(never)}`);
      }
    }
  }
  return { places, steps };
}

/** The inverse of a replay's id map: each replay node's id in the program's graph. */
const programIds = (ids: Map<number, number>) => new Map([...ids].map(([mine, theirs]) => [theirs, mine]));

/**
 * The per-node plan. With full batches an epoch is the graph's kernels, the loss record and an
 * update per parameter. With minibatches it is that for each batch, on the graph replayed at the
 * batch's rows (its data inputs gathered from the training set on the device, its parameters the
 * model's), the short last batch on a replay at its own rows sharing the batch's buffers; then,
 * with a validation set, the forward kernels of its replay and the validation record.
 */
export function planPerNode(program: Program, layout: Layout = DEFAULT_LAYOUT): Plan {
  const { loader, graph, loss, optimizer } = program;
  if (program.replicas.count > 1) throw new PlanError('replicates (bootstrap, sweeps) train on the fused plans; the per-node plan trains one model');
  const buffers: BufferDecl[] = [];
  const WG = layout.workgroupSize;
  const stride = (count: number) => lanes(count, layout);
  // Every row of the training set: what evaluate() computes and read() reads, and with full batches each epoch's work.
  const whole = lowerNodes(graph, buffers, layout);
  const { places } = whole;
  const { records, control } = trainingBuffers(program, buffers);
  const controlRead: Binding = { buffer: control, access: 'read' };
  const bufferOf = (segments: Segment[]) => segments[0]!.buffer;
  const notes = ['one kernel per graph node (reductions over long axes take two)'];
  const stateOf = new Map<number, Segment[][]>();
  const validation = new Map<number, Segment[]>();
  const steps: Step[] = [];
  const trained = program.params.filter((p) => p.grad !== null);
  if (loss !== null && optimizer) {
    const batches = batchesPerEpoch(loader);
    const stateBuffer = new Map<number, number>();
    for (const p of trained) {
      const count = sizeOf(graph.nodes[p.id]!.shape);
      const state = buffers.push({ label: `${optimizer.name} state of ${p.name}`, words: Math.max(1, optimizer.slots * count) }) - 1;
      stateBuffer.set(p.id, state);
      stateOf.set(p.id, Array.from({ length: optimizer.slots }, (_, k) => [{ buffer: state, offset: k * count, words: count }]));
    }
    /** The loss record after a batch (the epoch's, with full batches). */
    const record = (lossAt: Segment[]): Step => {
      const bindings: Binding[] = [{ buffer: bufferOf(lossAt), access: 'read' }, { buffer: records, access: 'rw' }, { buffer: control, access: 'rw' }];
      const spec = { kernel: 'record' as const, holes: { CONTROL: CONTROL_WGSL, EPOCH: EPOCH_WGSL }, constants: { BATCHES: batches }, access: bindings.map((b) => b.access) };
      return { label: `record loss %${loss}${batches > 1 ? ' (the epoch\'s after its last batch)' : ''}`, nodes: [], spec, bindings, groups: [1, 1], bytes: { read: 4, written: 4 } };
    };
    /** Each trained parameter's update from its gradient, wherever `gradAt` says that lies. */
    const updates = (gradAt: (id: number) => Segment[]): Step[] =>
      trained.map((p) => {
        const count = sizeOf(graph.nodes[p.id]!.shape);
        const update: Binding[] = [{ buffer: bufferOf(places.get(p.id)!), access: 'rw' }, { buffer: bufferOf(gradAt(p.grad!)), access: 'read' }, { buffer: stateBuffer.get(p.id)!, access: 'rw' }, controlRead];
        return {
          label: `${optimizer.name}: ${p.name} -= f(d${p.name})`,
          nodes: [],
          spec: { kernel: 'update', holes: { CONTROL: CONTROL_WGSL, OPTIMIZER: RULES[optimizer.rule] }, constants: { WG, COUNT: count }, access: update.map((b) => b.access) },
          bindings: update,
          groups: stride(count),
          bytes: { read: 4 * count * (2 + optimizer.slots), written: 4 * count * (1 + optimizer.slots) },
        };
      });
    if (loader.batchSize === loader.rows) {
      steps.push(...whole.steps, record(places.get(loss)!), ...updates((id) => places.get(id)!));
    } else {
      const training = { loss, params: program.params };
      /** One batch's work on the graph replayed at `rows` rows (sharing `like`'s buffers, a longer batch's). */
      const batchOf = (rows: number, like: ((id: number) => Segment[] | undefined) | null) => {
        const r = replay(graph, loader.rows, rows, training);
        const programId = programIds(r.ids);
        const shared = (n: Node) => {
          const id = programId.get(n.id);
          if (id === undefined) return undefined;
          return n.op === 'param' ? places.get(id) : like?.(id);
        };
        const lowered = lowerNodes(r.graph, buffers, layout, { shared, idOf: (id) => programId.get(id), tag: ` (batch of ${rows})` });
        const at = (id: number) => lowered.places.get(r.ids.get(id)!);
        const gathers = program.inputs.map(({ name, id }): Step => {
          const cols = sizeOf(graph.nodes[id]!.shape) / loader.rows;
          const bindings: Binding[] = [{ buffer: bufferOf(places.get(id)!), access: 'read' }, { buffer: bufferOf(at(id)!), access: 'rw' }, controlRead];
          const constants = { WG, N: loader.rows, BATCH: loader.batchSize, ROWS: rows, COLS: cols, SHUFFLE: loader.shuffle, HALF: feistelHalf(loader.rows) };
          const spec = { kernel: 'gather' as const, holes: { CONTROL: CONTROL_WGSL }, constants, access: bindings.map((b) => b.access) };
          return { label: `%${id} input ${name}: the batch's ${rows} rows${loader.shuffle ? ' (the epoch\'s shuffled order)' : ''}`, nodes: [id], spec, bindings, groups: stride(rows), bytes: { read: 4 * rows * cols, written: 4 * rows * cols } };
        });
        return { at, steps: [...gathers, ...lowered.steps, record(at(loss)!), ...updates((id) => at(id)!)] };
      };
      const full = batchOf(loader.batchSize, null);
      const rest = shortBatch(loader);
      const last = rest === null ? full : batchOf(rest, full.at);
      for (let b = 0; b < batches; b++) steps.push(...(b === batches - 1 ? last : full).steps);
      const dropped = loader.dropLast && loader.rows % loader.batchSize ? `, the last ${loader.rows % loader.batchSize} rows dropped` : '';
      notes.push(
        `${batches} batches of ${loader.batchSize} rows per epoch${rest === null ? '' : ` (the last of ${rest})`}${dropped}, each gathered from the training set on the device${loader.shuffle ? ', shuffled every epoch' : ''}, then its graph's kernels, the loss record and the updates: ${full.steps.length} dispatches a batch`,
      );
    }
    if (loader.validationRows > 0) {
      // The validation set's forward graph, on its own rows, with the parameters as the epoch left them.
      const r = replay(graph, loader.rows, loader.validationRows, null, [loss]);
      const programId = programIds(r.ids);
      const shared = (n: Node) => (n.op === 'param' ? places.get(programId.get(n.id)!) : undefined);
      const lowered = lowerNodes(r.graph, buffers, layout, { shared, idOf: (id) => programId.get(id), tag: ' (validation)' });
      for (const { id } of program.inputs) validation.set(id, lowered.places.get(r.ids.get(id)!)!);
      const bindings: Binding[] = [{ buffer: bufferOf(lowered.places.get(r.ids.get(loss)!)!), access: 'read' }, { buffer: records, access: 'rw' }, controlRead];
      const spec = { kernel: 'valid_record' as const, holes: { CONTROL: CONTROL_WGSL }, constants: {}, access: bindings.map((b) => b.access) };
      steps.push(...lowered.steps, { label: `record the validation loss %${loss}`, nodes: [], spec, bindings, groups: [1, 1], bytes: { read: 4, written: 4 } });
      notes.push(`the validation set's ${loader.validationRows} rows: its forward kernels and the validation record after each epoch (${lowered.steps.length + 1} dispatches)`);
    }
  }
  // Parameter snapshots are buffer copies between passes, laid out one parameter after another.
  let offset = 0;
  const snapshot = trained.map((p) => ({ id: p.id, offset: (offset += sizeOf(graph.nodes[p.id]!.shape)) - sizeOf(graph.nodes[p.id]!.shape), words: sizeOf(graph.nodes[p.id]!.shape) }));
  return { name: 'per-node', buffers, places, state: stateOf, validation, residuals: new Map(), snapshot, evaluate: whole.steps, train: { kind: 'per-epoch', steps }, records, control, notes };
}
