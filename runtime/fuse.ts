/**
 * @file The fused planner for the regression graph `mean(squaredError(X Wᵀ + b, Y))`.
 *
 * Fusion policy — what may fuse, what never does, and when a kernel splits:
 *
 * - The whole forward graph, the whole backward graph and the optimizer's update of a linear
 *   model under mean squared error fuse into two kernels per epoch, whatever n is:
 *     1. linear_mse_partials — one pass over the rows: prediction, residual, and per-workgroup
 *        partial sums of the loss and of every gradient (a tree in shared memory);
 *     2. linear_mse_update — one workgroup: sums the partials (a tree), records the loss, and
 *        applies the optimizer's rule to theta = [W, b] in place.
 *   The gradient nodes autograd added are never stored: their values exist only as these sums.
 * - Minibatches repeat the pair once per batch (a step needs the last step's parameters); the
 *   batch index, the epoch and the shuffle's key live in the control buffer, so an epoch of any
 *   number of batches is still one submission. A validation set adds one row-kernel pass over its
 *   rows and linear_mse_valid, which records its loss, per epoch.
 * - Tiny problems ((rows + validation rows) x (parameters + 1) <= layout.tinyMaxWork, one chunk)
 *   run a whole block of epochs inside one dispatch of one workgroup (linear_mse_tiny): barriers
 *   replace dispatch boundaries, so 1000 epochs, batches and validation included, cost one dispatch.
 * - Replicates (a bootstrap, a sweep; B models) run in the same dispatches, their data in one
 *   binding. Within the budget, one workgroup each of the tiny kernel. Past it, the two kernels
 *   run with each replicate's rows over its share of the workgroups (a grid of groups x B) and one
 *   update workgroup per replicate (`layout.bigReplicas: 'tiny'` keeps one workgroup each, with
 *   proportionally fewer epochs per dispatch; so do more replicates than a grid dimension holds).
 * - Data layout: X and Y are interleaved row by row in one buffer ([x | y], one stream per row, one
 *   binding fewer). Splits: the rows are bound in chunks that fit `maxStorageBufferBindingSize`;
 *   each chunk is one more dispatch of kernel 1, writing its own rows of partials. Kernel 1 binds
 *   4 storage buffers, kernel 2 binds 5 and the tiny kernel 5: below 5, kernel 2 splits into
 *   linear_mse_reduce (gradients to a buffer) and the standalone `update` kernel, and the tiny path
 *   is not used. Shared memory holds WG x P floats (P = parameters + 1), so the workgroup size
 *   halves until it fits.
 * - Never fused: any other graph (it runs one kernel per node), a mean over an axis, a graph whose
 *   parameters are not exactly W and b, or a model without an optimizer. Reading a fused-away node
 *   (a prediction, a gradient) is an error that says to compile with `plan: 'per-node'`.
 */
import type { Node } from '../engine/graph.js';
import { RULES } from '../wgsl/kernels.js';
import { CONTROL_WGSL, TREE_WGSL } from '../wgsl/kernels.js';
import { type Binding, type BufferDecl, type Layout, type Plan, PlanError, type Segment, type Step, trainingBuffers } from './plan.js';
import { HYPER } from './control.js';
import { type Program, batchesPerEpoch } from './program.js';
import { feistelHalf } from './shuffle.js';

/** The regression graph found in a program: which nodes are X, Y, W, b, and the sizes. */
export interface LinearMse {
  X: Node;
  Y: Node;
  W: Node;
  b: Node;
  n: number;
  d: number;
  k: number;
  /** W is stored [k, d] (true: used as Wᵀ) or [d, k] (false). */
  wRowsAreTargets: boolean;
  /** Forward nodes from the matmul to the loss, and every backward node. */
  fused: number[];
}

/** Finds `mean(squaredError(add(matmul(X, Wᵀ), b), Y))` (operands in either order) in a training program. */
export function matchLinearMse(program: Program): LinearMse | null {
  const { graph, loss, optimizer } = program;
  if (loss === null || !optimizer) return null;
  const nodes = graph.nodes;
  const at = (id: number | undefined) => (id === undefined ? undefined : nodes[id]);
  const L = nodes[loss]!;
  if (L.op !== 'mean' || (L.attrs as { axis: number | null }).axis !== null) return null;
  const S = at(L.inputs[0]);
  if (S?.op !== 'squaredError') return null;
  const [s0, s1] = [at(S.inputs[0])!, at(S.inputs[1])!];
  const [pred, Y] = s1.op === 'input' ? [s0, s1] : [s1, s0];
  if (Y.op !== 'input' || pred.op !== 'add' || Y.shape.length !== 2) return null;
  const [a0, a1] = [at(pred.inputs[0])!, at(pred.inputs[1])!];
  const [M, b] = a1.op === 'param' ? [a0, a1] : [a1, a0];
  if (M.op !== 'matmul' || b.op !== 'param') return null;
  const { transA, transB } = M.attrs as { transA: boolean; transB: boolean };
  const X = at(M.inputs[0])!;
  let R = at(M.inputs[1])!;
  if (transA || X.op !== 'input' || X.shape.length !== 2) return null;
  const chain = [L.id, S.id, pred.id, M.id];
  let rowsAreTargets = transB;
  if (R.op === 'transpose' && !transB) {
    chain.push(R.id);
    R = at(R.inputs[0])!;
    rowsAreTargets = true;
  }
  if (R.op !== 'param') return null;
  const [n, d] = X.shape as [number, number];
  const k = Y.shape[1]!;
  const wShape = rowsAreTargets ? [k, d] : [d, k];
  if (Y.shape[0] !== n || R.shape[0] !== wShape[0] || R.shape[1] !== wShape[1]) return null;
  if (!(b.shape.length === 1 && b.shape[0] === k) && !(b.shape.length === 2 && b.shape[0] === 1 && b.shape[1] === k)) return null;
  const params = new Set(program.params.map((p) => p.id));
  if (params.size !== 2 || !params.has(R.id) || !params.has(b.id) || program.params.some((p) => p.grad === null)) return null;
  const backward = nodes.filter((nd) => nd.role === 'backward').map((nd) => nd.id);
  return { X, Y, W: R, b, n, d, k, wRowsAreTargets: rowsAreTargets, fused: [...chain.reverse(), ...backward] };
}

/** Largest power-of-two workgroup size <= `max` whose WG x P shared floats (plus `extra` bytes) fit. */
function fitWorkgroup(P: number, layout: Layout, max: number, extra = 0): number {
  let wg = max;
  while (wg > 1 && wg * P * 4 + extra > layout.maxWorkgroupBytes) wg /= 2;
  return wg;
}

/**
 * Plans the regression graph. `mode` 'auto' picks the single-dispatch plan when it fits (and, for
 * replicates past one workgroup's budget, when the adapter prefers it), 'tiny' insists on it
 * where it can run at all, 'fused' always takes the two-kernel plan.
 */
export function planFused(program: Program, m: LinearMse, layout: Layout, mode: 'auto' | 'tiny' | 'fused'): Plan {
  const { n, d, k } = m;
  const optimizer = program.optimizer!;
  const loader = program.loader;
  const batches = batchesPerEpoch(loader);
  const nv = loader.validationRows;
  const count = k * d + k;
  const P = count + 1;
  const width = d + k;
  const notes: string[] = [];
  const buffers: BufferDecl[] = [];
  const places = new Map<number, Segment[]>();
  const validation = new Map<number, Segment[]>();
  const residuals = new Map<number, Segment[]>();
  const decl = (label: string, words: number) => buffers.push({ label, words }) - 1;

  if (layout.maxStorageBuffers < 4) throw new PlanError(`the fused plan needs 4 storage buffers per kernel, the device allows ${layout.maxStorageBuffers}`);
  const B = program.replicas.count;
  const theta = decl(B > 1 ? `theta = [W, b] of ${B} replicates (${count} parameters each)` : `theta = [W, b] (${count} parameters)`, B * count);
  // With replicates, a parameter reads as every replicate's values one after another.
  places.set(m.W.id, Array.from({ length: B }, (_, r) => ({ buffer: theta, offset: r * count, words: k * d })));
  places.set(m.b.id, Array.from({ length: B }, (_, r) => ({ buffer: theta, offset: r * count + k * d, words: k })));
  const snapshot = [
    { id: m.W.id, offset: 0, words: k * d },
    { id: m.b.id, offset: k * d, words: k },
  ];
  const state = decl(`${optimizer.name} state (${optimizer.slots} x ${B * count})`, Math.max(1, optimizer.slots * B * count));

  /**
   * X and Y interleaved row by row ([x | y], d + k words a row), in chunks that fit one binding;
   * `after` more words (a residual bootstrap's residuals) follow the rows of a single chunk.
   */
  const dataChunks = (set: string, rows: number, first: number, after: { words: number; label: string } | null = null) => {
    const perChunk = Math.max(1, Math.floor(layout.maxBindingBytes / (4 * width)));
    const chunks: { start: number; rows: number; buffer: number }[] = [];
    for (let start = 0; start < rows; start += perChunk) {
      const r = Math.min(perChunk, rows - start);
      const suffix = rows > perChunk ? ` rows ${start}..${start + r - 1}` : '';
      const tail = after && rows <= perChunk ? after : null;
      chunks.push({ start, rows: r, buffer: decl(`${set} [X | Y]${suffix}${tail ? `, then ${tail.label}` : ''}`, r * width + (tail?.words ?? 0)) });
    }
    if (chunks.length > 1) notes.push(`the ${set} set is bound in ${chunks.length} chunks of at most ${perChunk} rows (binding limit ${layout.maxBindingBytes} bytes)`);
    const place = (cols: number, at: number): Segment[] => chunks.map((c) => ({ buffer: c.buffer, offset: first * width + at, words: c.rows * cols, stride: width, width: cols }));
    return { chunks, x: place(d, 0), y: place(k, d) };
  };

  const { records, control } = trainingBuffers(program, buffers);
  // Every replicate's parameters, optimizer state and counters sit in one binding each.
  for (const i of B > 1 ? [theta, state, control] : []) {
    const bytes = 4 * buffers[i]!.words;
    if (bytes > layout.maxBindingBytes) throw new PlanError(`${B} replicates: the ${buffers[i]!.label} need ${bytes} bytes, over one binding (${layout.maxBindingBytes} bytes); train fewer replicates at once`);
  }
  const rw = (buffer: number): Binding => ({ buffer, access: 'rw' });
  const ro = (buffer: number): Binding => ({ buffer, access: 'read' });
  const step = (label: string, kernel: Step['spec']['kernel'], holes: Record<string, string>, constants: Step['spec']['constants'], bindings: Binding[], groups: [number, number], bytes: Step['bytes']): Step => ({
    label,
    nodes: m.fused,
    spec: { kernel, holes: { CONTROL: CONTROL_WGSL, ...holes }, constants, access: bindings.map((b) => b.access) },
    bindings,
    groups,
    bytes,
  });
  // The regression's shape, and the workgroup tree sum every kernel with P running sums shares.
  const shapeHoles = { D: String(d), K: String(k), TREE: TREE_WGSL };
  const wHoles = { ...shapeHoles, W_T: String(m.wRowsAreTargets ? d : 1), W_J: String(m.wRowsAreTargets ? 1 : k) };
  const rule = RULES[optimizer.rule];
  const shuffle = { SHUFFLE: loader.shuffle, HALF: feistelHalf(n) };
  const batching = { N: n, BATCH: loader.batchSize, BATCHES: batches };
  const stateBytes = 4 * count * (1 + optimizer.slots);
  if (batches > 1) notes.push(`${batches} batches of ${loader.batchSize} rows per epoch${loader.shuffle ? ', shuffled on the device every epoch' : ''}${loader.dropLast && n % loader.batchSize ? `, the last ${n % loader.batchSize} rows dropped` : ''}`);

  // Invocations beyond a batch's rows would only add levels to the tree: size the workgroup to it.
  const wantedWG = Math.min(layout.tinyWorkgroup, 2 ** Math.ceil(Math.log2(Math.max(1, Math.min(n, loader.batchSize)))));
  const tinyWG = fitWorkgroup(P, layout, wantedWG, 4 * count);
  const { bootstrap } = program.replicas;
  const resid = bootstrap === 'residuals';
  // One buffer of n + nv rows: the training set, then the validation set; then, for a residual
  // bootstrap, the n rows of residuals (k a row) that replicates draw from.
  const dataWords = (n + nv) * width + (resid ? n * k : 0);
  // One model past the budget trains faster on the general plan's many workgroups. Many models fill
  // a GPU one workgroup each, so replicates stay here at any size that fits one binding, with fewer
  // epochs per dispatch: each dispatch gives a workgroup at most the budget's work per epoch limit.
  const work = (n + nv) * P;
  const epochsPerDispatch = work > layout.tinyMaxWork ? Math.max(1, Math.floor((layout.epochsPerDispatch * layout.tinyMaxWork) / work)) : layout.epochsPerDispatch;
  // Past the budget, each replicate's rows spread over many workgroups of the two-kernel plan: a
  // GPU would run a few single workgroups on a sliver of its cores, and even lavapipe ran 1.3-2.1x
  // faster spread (its row kernel reads rows faster than the single-workgroup kernel does).
  const spread = B > 1 && mode === 'auto' && work > layout.tinyMaxWork && layout.bigReplicas === 'fused' && B <= layout.maxGroupsPerDim;
  const tinyRefusal =
    work > layout.tinyMaxWork && B === 1
      ? `${n + nv} rows x ${P} sums exceed one workgroup's budget (${layout.tinyMaxWork})`
      : dataWords * 4 > layout.maxBindingBytes
        ? `the data (${dataWords * 4} bytes) exceed one binding (${layout.maxBindingBytes} bytes)`
        : layout.maxStorageBuffers < 5
          ? `it binds 5 storage buffers and the device allows ${layout.maxStorageBuffers}`
          : tinyWG < Math.min(8, wantedWG)
            ? `${P} sums a row leave room for a workgroup of only ${tinyWG} in ${layout.maxWorkgroupBytes} bytes of shared memory`
            : null;
  const notTiny =
    mode === 'fused'
      ? 'the caller asked for the general one'
      : (tinyRefusal ?? (spread ? `${B} replicates of ${n + nv} rows x ${P} sums, over one workgroup's budget (${layout.tinyMaxWork}): each one's rows spread over many workgroups` : null));
  if (notTiny) notes.push(`not the single-dispatch plan: ${notTiny}`);
  // Replicates: their count, where their counters start in control, their rows of hyperparameters.
  const hypers = Math.max(1, Object.keys(optimizer.hyper).length);
  const replicas: Record<string, number | boolean> = B > 1 ? { REPLICATES: B, REPLICA_AT: HYPER + hypers * B } : {};
  const draws: Record<string, number | boolean> = B > 1 ? { BOOTSTRAP: bootstrap !== 'none', RESIDUALS: resid } : {};
  const drawn = { none: '', pairs: ', each on its own resample of the rows drawn on the device', residuals: ', each on the rows with a resample of the residuals added to Y, drawn on the device' }[bootstrap];
  const own = program.replicas.hyper ? ', each with its own hyperparameters' : '';
  if (!notTiny) {
    const dataLabel = nv ? `[X | Y]: ${n} training rows, then ${nv} validation rows` : resid ? `[X | Y] (${n} rows), then the residuals (${n} x ${k})` : '[X | Y]';
    const data = decl(dataLabel, dataWords);
    places.set(m.X.id, [{ buffer: data, offset: 0, words: n * d, stride: width, width: d }]);
    places.set(m.Y.id, [{ buffer: data, offset: d, words: n * k, stride: width, width: k }]);
    if (nv) {
      validation.set(m.X.id, [{ buffer: data, offset: n * width, words: nv * d, stride: width, width: d }]);
      validation.set(m.Y.id, [{ buffer: data, offset: n * width + d, words: nv * k, stride: width, width: k }]);
    }
    if (resid) {
      if (program.replicas.target !== m.Y.id) throw new Error("bootstrap 'residuals': the residuals' target is not the Y of the fused regression");
      residuals.set(m.Y.id, [{ buffer: data, offset: (n + nv) * width, words: n * k, stride: k, width: k }]);
    }
    const budget = work > layout.tinyMaxWork ? `${n + nv} rows x ${P} sums over the budget of ${layout.tinyMaxWork}, so fewer epochs per dispatch` : `${n + nv} rows x ${P} sums <= ${layout.tinyMaxWork}`;
    notes.push(`the whole run in one workgroup of ${tinyWG}${B > 1 ? ' per replicate' : ''}: ${budget}; up to ${epochsPerDispatch} epochs per dispatch`);
    const replicated = B > 1 ? { ...replicas, ...draws, RESIDUALS_AT: (n + nv) * width, HYPER_STRIDE: hypers } : {};
    if (B > 1) notes.push(`${B} replicates, one workgroup each${drawn}${own}`);
    const s = step(
      B > 1 ? `${B} models: every batch of every epoch, forward, backward, update, loss record` : 'every batch of every epoch: forward, backward, update; loss record, validation, snapshots',
      'linear_mse_tiny',
      { ...wHoles, OPTIMIZER: rule },
      { WG: tinyWG, ...batching, VALID: nv, ...shuffle, MAX_EPOCHS: epochsPerDispatch, ...replicated },
      [ro(data), rw(theta), rw(state), rw(records), rw(control)],
      // Rows of the grid past the device's workgroups per dimension (the kernel skips the overhang).
      [Math.min(B, layout.maxGroupsPerDim), Math.ceil(B / layout.maxGroupsPerDim)],
      { read: 4 * (n + nv) * width + B * stateBytes, written: B * (stateBytes + 8) },
    );
    return { name: 'tiny', buffers, places, validation, residuals, snapshot, evaluate: [], train: { kind: 'block', steps: [s], epochsPerDispatch }, records, control, notes };
  }

  // Replicates on this plan: every row kernel runs B rows of workgroups (row r for replicate r),
  // the update and validation kernels one workgroup per replicate; the data stay in one binding
  // (a resampled row may be any row) and the residuals follow the training rows.
  if (B > 1) {
    const refuse = (why: string) => new PlanError(`${B} replicates train together on the two-kernel plan only ${why}`);
    const trainBytes = 4 * (n * width + (resid ? n * k : 0));
    if (Math.max(trainBytes, 4 * nv * width) > layout.maxBindingBytes) throw refuse(`with their data in one binding, and here the data (${Math.max(trainBytes, 4 * nv * width)} bytes) exceed one binding (${layout.maxBindingBytes} bytes)`);
    if (layout.maxStorageBuffers < 5) throw refuse(`with 5 storage buffers per kernel, and the device allows ${layout.maxStorageBuffers}`);
    if (B > layout.maxGroupsPerDim) throw refuse(`up to ${layout.maxGroupsPerDim} of them (the device's workgroups per dimension)`);
  }
  const train = dataChunks('training', n, 0, B > 1 && resid ? { words: n * k, label: `the residuals (${n} x ${k})` } : null);
  places.set(m.X.id, train.x);
  places.set(m.Y.id, train.y);
  if (B > 1 && resid) residuals.set(m.Y.id, [{ buffer: train.chunks[0]!.buffer, offset: n * width, words: n * k, stride: k, width: k }]);
  const WG = fitWorkgroup(P, layout, 64);
  // Each invocation keeps P running sums and the tree holds WG x P of them in shared memory; WGSL
  // compilers also refuse function-scope arrays of 65536 elements or more. Refused here, before
  // any WGSL is made, with the numbers.
  if (4 * WG * P > layout.maxWorkgroupBytes || P >= 65536) {
    throw new PlanError(`the fused plan keeps ${P} sums (parameters + 1) per invocation: ${4 * P} bytes of shared memory for a workgroup of one, and the device allows ${layout.maxWorkgroupBytes}${P >= 65536 ? ' (and WGSL arrays hold fewer than 65536 elements)' : ''}`);
  }
  // A replicate's share of the workgroups one model would get: B models fill the device as one does.
  const cap = layout.rows === 'contiguous' ? layout.contiguousGroups : Math.min(layout.stridedGroups, layout.maxGroupsPerDim);
  const groupsFor = (rows: number) => Math.max(1, Math.min(Math.ceil(rows / WG), Math.ceil(cap / B)));
  notes.push(`rows layout: ${layout.rows}${layout.rows === 'contiguous' ? ' (each invocation reads its own run of rows)' : ' (grid stride)'}, workgroup size ${WG}`);

  /** One row-kernel dispatch per chunk (B workgroups high), writing consecutive rows of `partials`. */
  const rowKernels = (set: ReturnType<typeof dataChunks>, partials: number, extra: Record<string, number | boolean>, label: string, rowsRead: number) => {
    let base = 0;
    return set.chunks.map((c) => {
      const groups = groupsFor(Math.min(c.rows, rowsRead));
      const s = step(
        `${label}${set.chunks.length > 1 ? ` (rows ${c.start}..${c.start + c.rows - 1})` : ''}`,
        'linear_mse_partials',
        wHoles,
        { WG, ROWS: c.rows, CHUNK_START: c.start, GROUP_BASE: base, CONTIGUOUS: layout.rows === 'contiguous', ...replicas, ...extra },
        [ro(c.buffer), ro(theta), rw(partials), ro(control)],
        [groups, B],
        { read: B * (4 * Math.min(c.rows, rowsRead) * (width + (extra.RESIDUALS ? k : 0)) + 4 * count), written: B * 4 * groups * P },
      );
      base += groups;
      return s;
    });
  };
  const perReplica = (groups: number): Record<string, number> => (B > 1 ? { REPLICA_GROUPS: groups } : {});
  const totalGroups = train.chunks.reduce((s, c) => s + groupsFor(Math.min(c.rows, loader.batchSize)), 0);
  if (B > 1 && 4 * B * totalGroups * P > layout.maxBindingBytes) {
    throw new PlanError(`${B} replicates x ${totalGroups} workgroups x ${P} sums of partials need ${4 * B * totalGroups * P} bytes, over one binding (${layout.maxBindingBytes} bytes); train fewer replicates at once`);
  }
  const partials = decl(`partials (${B > 1 ? `${B} replicates x ` : ''}${totalGroups} workgroups x ${P} sums)`, B * totalGroups * P);
  const batchRows = Math.min(n, loader.batchSize);
  const what = batches > 1 ? 'one batch: prediction, residual, loss and gradient partial sums' : 'prediction, residual, loss and gradient partial sums';
  const kernel1 = rowKernels(train, partials, { N: n, BATCH: loader.batchSize, ...shuffle, ...draws, ...(resid ? { RESIDUALS_AT: n * width } : {}), ...perReplica(totalGroups) }, B > 1 ? `${B} models, ${what}` : what, batchRows);
  if (B > 1) notes.push(`${B} replicates, each over ${totalGroups} workgroups of every row kernel (a dispatch ${totalGroups} x ${B}) and one workgroup of the others${drawn}${own}`);

  const reduceBytes = { read: B * (4 * totalGroups * P + stateBytes), written: B * (stateBytes + 4) };
  const kernel2: Step[] = [];
  if (layout.maxStorageBuffers >= 5) {
    const label = B > 1 ? `${B} models, each: sum its partials, update; at the epoch end record its loss, flag its divergence` : 'sum partials, update; at the epoch end record loss, flag divergence, snapshot';
    const constants = { WG, GROUPS: totalGroups, ...batching, ...replicas, ...perReplica(totalGroups), ...(B > 1 ? { HYPER_STRIDE: hypers } : {}) };
    kernel2.push(step(label, 'linear_mse_update', { ...shapeHoles, OPTIMIZER: rule }, constants, [ro(partials), rw(theta), rw(state), rw(records), rw(control)], [B, 1], reduceBytes));
  } else {
    notes.push(`the update kernel needs 5 storage buffers and the device allows ${layout.maxStorageBuffers}: split into reduce + update (no parameter snapshots)`);
    snapshot.length = 0;
    const grads = decl(`gradient of theta (${count})`, count);
    kernel2.push(step('sum partials, write gradients; at the epoch end record loss, flag divergence', 'linear_mse_reduce', shapeHoles, { WG, GROUPS: totalGroups, ...batching }, [ro(partials), rw(grads), rw(records), rw(control)], [1, 1], { read: 4 * totalGroups * P, written: 4 * (count + 1) }));
    kernel2.push(
      step(`${optimizer.name} update of theta`, 'update', { OPTIMIZER: rule }, { WG, COUNT: count }, [rw(theta), ro(grads), rw(state), ro(control)], [Math.max(1, Math.ceil(count / WG)), 1], {
        read: 4 * count * (2 + optimizer.slots),
        written: 4 * count * (1 + optimizer.slots),
      }),
    );
  }
  const steps: Step[] = [];
  for (let b = 0; b < batches; b++) steps.push(...kernel1, ...kernel2);

  if (nv) {
    const valid = dataChunks('validation', nv, 0);
    validation.set(m.X.id, valid.x);
    validation.set(m.Y.id, valid.y);
    const vGroups = valid.chunks.reduce((s, c) => s + groupsFor(c.rows), 0);
    const vPartials = decl(`validation partials (${B > 1 ? `${B} replicates x ` : ''}${vGroups} workgroups x ${P} sums)`, B * vGroups * P);
    steps.push(...rowKernels(valid, vPartials, { N: nv, BATCH: nv, WHOLE: true, ...perReplica(vGroups) }, 'validation set: loss partial sums', nv));
    const label = B > 1 ? `${B} models, each: sum its validation partials, record its validation loss` : 'sum validation partials, record the validation loss';
    steps.push(step(label, 'linear_mse_valid', { P: String(P) }, { WG: 64, GROUPS: vGroups, N: nv, K: k, ...replicas, ...perReplica(vGroups) }, [ro(vPartials), rw(records), ro(control)], [B, 1], { read: B * 4 * vGroups * P, written: B * 4 }));
  }
  return { name: 'fused', buffers, places, validation, residuals, snapshot, evaluate: [], train: { kind: 'per-epoch', steps }, records, control, notes };
}
