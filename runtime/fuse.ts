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
 * - Tiny problems (rows x (parameters + 1) <= layout.tinyMaxWork, one chunk) run a whole block of
 *   epochs inside one dispatch of one workgroup (linear_mse_tiny): barriers replace dispatch
 *   boundaries, so 1000 epochs cost one dispatch.
 * - Splits: X and Y are bound in chunks of rows that fit `maxStorageBufferBindingSize`; each
 *   chunk is one more dispatch of kernel 1, writing its own rows of partials. Kernel 2 binds 5
 *   storage buffers and the tiny kernel 6: below that limit, kernel 2 splits into
 *   linear_mse_reduce (gradients to a buffer) and the standalone `update` kernel, and the tiny path
 *   is not used. Shared memory holds WG x P floats (P = parameters + 1), so the workgroup size
 *   halves until it fits.
 * - Never fused: any other graph (it runs one kernel per node), a mean over an axis, a graph whose
 *   parameters are not exactly W and b, or a model without an optimizer. Reading a fused-away node
 *   (a prediction, a gradient) is an error that says to compile with `plan: 'per-node'`.
 */
import type { Node } from '../engine/graph.js';
import { RULES } from '../wgsl/kernels.js';
import { type Binding, type BufferDecl, type Layout, type Plan, type Segment, type Step, trainingBuffers } from './plan.js';
import type { Program } from './program.js';

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

export function planFused(program: Program, m: LinearMse, layout: Layout, allowTiny: boolean): Plan {
  const { n, d, k } = m;
  const optimizer = program.optimizer!;
  const count = k * d + k;
  const P = count + 1;
  const notes: string[] = [];
  const buffers: BufferDecl[] = [];
  const places = new Map<number, Segment[]>();
  const decl = (label: string, words: number) => buffers.push({ label, words }) - 1;

  if (layout.maxStorageBuffers < 4) throw new Error(`the fused plan needs 4 storage buffers per kernel, the device allows ${layout.maxStorageBuffers}`);
  const theta = decl(`theta = [W, b] (${count} parameters)`, count);
  places.set(m.W.id, [{ buffer: theta, offset: 0, words: k * d }]);
  places.set(m.b.id, [{ buffer: theta, offset: k * d, words: k }]);
  const state = decl(`${optimizer.name} state (${optimizer.slots} x ${count})`, Math.max(1, optimizer.slots * count));

  // Rows per chunk: each chunk's X and Y must fit one binding.
  const rowsPerChunk = Math.max(1, Math.floor(layout.maxBindingBytes / (4 * Math.max(d, k))));
  const chunks: { start: number; rows: number; x: number; y: number }[] = [];
  for (let start = 0; start < n; start += rowsPerChunk) {
    const rows = Math.min(rowsPerChunk, n - start);
    const suffix = n > rowsPerChunk ? ` rows ${start}..${start + rows - 1}` : '';
    chunks.push({ start, rows, x: decl(`X${suffix}`, rows * d), y: decl(`Y${suffix}`, rows * k) });
  }
  places.set(m.X.id, chunks.map((c) => ({ buffer: c.x, offset: 0, words: c.rows * d })));
  places.set(m.Y.id, chunks.map((c) => ({ buffer: c.y, offset: 0, words: c.rows * k })));
  if (chunks.length > 1) notes.push(`X is bound in ${chunks.length} chunks of at most ${rowsPerChunk} rows (binding limit ${layout.maxBindingBytes} bytes)`);

  const { history, control } = trainingBuffers(program, buffers);
  const rw = (buffer: number): Binding => ({ buffer, access: 'rw' });
  const ro = (buffer: number): Binding => ({ buffer, access: 'read' });
  const step = (label: string, kernel: Step['spec']['kernel'], holes: Record<string, string>, constants: Step['spec']['constants'], bindings: Binding[], groups: [number, number], bytes: Step['bytes']): Step => ({
    label,
    nodes: m.fused,
    spec: { kernel, holes, constants, access: bindings.map((b) => b.access) },
    bindings,
    groups,
    bytes,
  });
  const shapeHoles = { D: String(d), K: String(k) };
  const wHoles = { ...shapeHoles, W_T: String(m.wRowsAreTargets ? d : 1), W_J: String(m.wRowsAreTargets ? 1 : k) };
  const rule = RULES[optimizer.rule];
  const INV_N = 1 / (n * k);
  const dataBytes = 4 * n * (d + k);

  // Invocations beyond the row count would only add levels to the tree: size the workgroup to n.
  const tinyWG = fitWorkgroup(P, layout, Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, n)))), 4 * count);
  const tiny = allowTiny && chunks.length === 1 && n * P <= layout.tinyMaxWork && layout.maxStorageBuffers >= 6 && tinyWG >= Math.min(8, n);
  if (tiny) {
    const c = chunks[0]!;
    notes.push(`the whole run in one workgroup: ${n} rows x ${P} sums <= ${layout.tinyMaxWork}; up to ${layout.epochsPerDispatch} epochs per dispatch`);
    const s = step(
      'forward, backward, loss record and update, looping over epochs',
      'linear_mse_tiny',
      { ...wHoles, OPTIMIZER: rule },
      { WG: tinyWG, ROWS: n, INV_N, MAX_EPOCHS: layout.epochsPerDispatch },
      [ro(c.x), ro(c.y), rw(theta), rw(state), rw(history), rw(control)],
      [1, 1],
      { read: dataBytes + 4 * count * (1 + optimizer.slots), written: 4 * (count * (1 + optimizer.slots) + 1) },
    );
    return { name: 'tiny', buffers, places, evaluate: [], train: { kind: 'block', steps: [s], epochsPerDispatch: layout.epochsPerDispatch }, history, control, notes };
  }

  const WG = fitWorkgroup(P, layout, 64);
  const groupsFor = (rows: number) =>
    layout.rows === 'contiguous'
      ? Math.max(1, Math.min(layout.contiguousGroups, Math.ceil(rows / WG)))
      : Math.max(1, Math.min(Math.ceil(rows / WG), 1024, layout.maxGroupsPerDim));
  const totalGroups = chunks.reduce((s, c) => s + groupsFor(c.rows), 0);
  const partials = decl(`partials (${totalGroups} workgroups x ${P} sums)`, totalGroups * P);
  notes.push(`rows layout: ${layout.rows}${layout.rows === 'contiguous' ? ' (each invocation reads its own run of rows)' : ' (grid stride)'}, workgroup size ${WG}`);
  const steps: Step[] = [];
  let base = 0;
  for (const c of chunks) {
    const groups = groupsFor(c.rows);
    steps.push(
      step(
        `prediction, residual, loss and gradient partial sums${chunks.length > 1 ? ` (rows ${c.start}..${c.start + c.rows - 1})` : ''}`,
        'linear_mse_partials',
        wHoles,
        { WG, ROWS: c.rows, GROUP_BASE: base, CONTIGUOUS: layout.rows === 'contiguous' },
        [ro(c.x), ro(c.y), ro(theta), rw(partials)],
        [groups, 1],
        { read: 4 * c.rows * (d + k) + 4 * count, written: 4 * groups * P },
      ),
    );
    base += groups;
  }
  const reduceBytes = { read: 4 * totalGroups * P + 4 * count * (1 + optimizer.slots), written: 4 * (count * (1 + optimizer.slots) + 1) };
  if (layout.maxStorageBuffers >= 5) {
    steps.push(
      step('sum partials, record loss, optimizer update', 'linear_mse_update', { ...shapeHoles, OPTIMIZER: rule }, { WG, GROUPS: totalGroups, INV_N }, [ro(partials), rw(theta), rw(state), rw(history), rw(control)], [1, 1], reduceBytes),
    );
  } else {
    notes.push(`the update kernel needs 5 storage buffers and the device allows ${layout.maxStorageBuffers}: split into reduce + update`);
    const grads = decl(`gradient of theta (${count})`, count);
    steps.push(step('sum partials, record loss, write gradients', 'linear_mse_reduce', shapeHoles, { WG, GROUPS: totalGroups, INV_N }, [ro(partials), rw(grads), rw(history), rw(control)], [1, 1], { read: 4 * totalGroups * P, written: 4 * (count + 1) }));
    steps.push(
      step(`${optimizer.name} update of theta`, 'update', { OPTIMIZER: rule }, { WG, COUNT: count }, [rw(theta), ro(grads), rw(state), ro(control)], [Math.max(1, Math.ceil(count / WG)), 1], {
        read: 4 * count * (2 + optimizer.slots),
        written: 4 * count * (1 + optimizer.slots),
      }),
    );
  }
  return { name: 'fused', buffers, places, evaluate: [], train: { kind: 'per-epoch', steps }, history, control, notes };
}
