/**
 * @file Lay out: a schedule becomes buffers, bindings and dispatches.
 *
 * - Small problems ((rows + validation rows) x sums over rows <= layout.tinyMaxWork, data in one
 *   binding) run a whole block of epochs in one dispatch, one workgroup per model
 *   (wgsl/tiny.wgsl), or one invocation per model (wgsl/serial.wgsl) for batches of at most
 *   layout.serialMaxRows rows: barriers replace dispatch boundaries, so 1000 epochs, batches and
 *   validation included, are one dispatch.
 * - Otherwise a step is one dispatch of wgsl/row_pass.wgsl per row pass and data chunk, then
 *   wgsl/finish.wgsl, one workgroup per model; with fewer than 5 storage buffers per stage the
 *   finishing kernel stores the gradients and update.wgsl applies them. A validation set adds
 *   its row passes and wgsl/valid_finish.wgsl per epoch.
 * - Data layout: a row's values of the wide data inputs (4 or more) sit together in a vec4
 *   record, the narrow ones' in a float record, both in one buffer bound as two views
 *   (layout.rowLoads; floats only on a device with fewer than 6 storage buffers). Rows are bound
 *   in chunks that fit maxStorageBufferBindingSize; each chunk is one more dispatch of a row pass.
 *   Shared memory holds workgroup x sums floats, so the workgroup size halves until it fits.
 * - Row teams: where the adapter has subgroups of one size and a wide data input is read only by
 *   `X Wᵀ`-style products and `Xᵀe`-style sums (compile/team.ts), a row pass is the `row_team`
 *   kernel (wgsl/row_pass.wgsl with a team's holes): a workgroup is one subgroup sharing each
 *   row, and its lanes store the sums they hold, with no tree.
 * - Replicates (a bootstrap, a sweep; B models) train in the same dispatches: one workgroup each
 *   on the single-dispatch plan; past its budget, each replicate's rows over its share of the row
 *   passes' workgroups (a grid of groups x B) and one finishing workgroup each
 *   (`layout.bigReplicas: 'tiny'` keeps one workgroup each).
 */
import { OPS } from '../engine/ops.js';
import { controlLayout } from '../wgsl/control.js';
import { CONTROL_WGSL, EPOCH_WGSL, RULES, TREE_WGSL } from '../wgsl/kernels.js';
import { feistelHalf } from '../wgsl/shuffle.js';
import type { Layout } from './layout.js';
import { type Binding, type BufferDecl, type Plan, PlanError, type Segment, type Step, trainingBuffers } from './plan.js';
import { type Program, batchesPerEpoch, shortBatch } from './program.js';
import { type RowLayout, type Theta, straightTerms, thetaOf, widthOf } from './emit.js';
import { type Schedule, Unfusable, schedule } from './schedule.js';
import { dataBindings, finishHole, rowPassHoles, teamPassHoles, trainStep, validStep } from './steps.js';
import { teamFor, teamNote } from './team.js';

/** Largest power-of-two workgroup size <= `max` whose WG x P shared floats (plus `extra` bytes) fit. */
function fitWorkgroup(P: number, layout: Layout, max: number, extra = 0): number {
  let wg = max;
  while (wg > 1 && wg * P * 4 + extra > layout.maxWorkgroupBytes) wg /= 2;
  return wg;
}

/** The widest pass's sums, at least 1 (WGSL arrays are never empty). */
const widest = (s: Schedule) => Math.max(1, ...s.passes.map((p) => p.size));

/**
 * Plans a training program as generated kernels. `mode` 'auto' picks the single-dispatch plan
 * when it fits (and, for replicates past one workgroup's budget, when the layout prefers it),
 * 'tiny' insists on it where it can run at all, 'fused' always takes row passes and a finishing
 * kernel. Throws Unfusable for a graph the compiler does not fuse.
 */
export function planCompiled(program: Program, layout: Layout, mode: 'auto' | 'tiny' | 'fused'): Plan {
  const { graph, loss, optimizer, loader } = program;
  if (loss === null || !optimizer) throw new Unfusable('the program has no loss and optimizer: there is nothing to fuse into a training step');
  const nodes = graph.nodes;
  const n = loader.rows;
  const nv = loader.validationRows;
  const batches = batchesPerEpoch(loader);
  const short = shortBatch(loader);
  const theta: Theta = thetaOf(program.params, nodes);
  const count = theta.count;
  const inputIds = program.inputs.map((i) => i.id);
  const trainAt = (limit: number) => schedule(graph, n, inputIds, [loss, ...theta.params.map((p) => p.grad)], { loss, params: program.params }, loader.batchSize, short, limit);
  // The unroll limit: the layout's, halved (down to 4) while the row code would write out more
  // terms than the layout's budget; past it the driver's compile time outgrows what straight-line
  // code saves an epoch.
  let unroll = layout.unroll;
  let train = trainAt(unroll);
  const straight = straightTerms(train, unroll);
  while (Number.isFinite(unroll) && unroll > 4 && straightTerms(train, unroll) > layout.straightTerms) {
    unroll = Math.floor(unroll / 2);
    train = trainAt(unroll);
  }
  const unrollNote = unroll < layout.unroll ? `row code written out up to ${unroll} values, not ${layout.unroll}: ${straight} terms written out would exceed the budget of ${layout.straightTerms} (${straightTerms(train, unroll)} now)` : null;
  const valid = nv ? schedule(graph, n, inputIds, [loss], null, nv, null, unroll) : null;

  // A row's records: the wide data inputs' values (4 or more a row) read as vec4, the narrow ones'
  // as floats, each input whole in one record, in the program's order of inputs. A vec4 view and
  // a float view of one buffer take two bindings: with fewer than 6 per kernel, floats only.
  const inputs = program.inputs.map((i) => nodes[i.id]!);
  const vec4 = layout.rowLoads === 'vec4' && layout.maxStorageBuffers >= 6;
  const columns: RowLayout['columns'] = new Map();
  let [vecWidth, scalarWords] = [0, 0];
  for (const input of inputs) {
    const w = widthOf(input);
    if (vec4 && w >= 4) columns.set(input.id, { part: 'vec4', column: (vecWidth += w) - w });
    else columns.set(input.id, { part: 'scalar', column: (scalarWords += w) - w });
  }
  const vecWords = 4 * Math.ceil(vecWidth / 4);
  const rowWords = vecWords + scalarWords;
  const { bootstrap, target } = program.replicas;
  const resid = bootstrap === 'residuals';
  const residWidth = resid ? widthOf(nodes[target!]!) : 0;
  const rows: RowLayout = { vecWords, scalarWords, columns, residualTarget: resid ? target : null };
  const recordHoles = { VEC_STRIDE: String(vecWords / 4), SCALAR_STRIDE: String(scalarWords), RESIDUAL_STRIDE: String(Math.max(1, residWidth)), COUNT: String(count) };
  /** The data views a kernel binds after its other `first` bindings, and their declarations. */
  const views = (first: number, layoutOf: RowLayout, buffer: number) => {
    const { text, views: n } = dataBindings(layoutOf, first);
    return { text, bindings: Array.from({ length: n }, (): Binding => ({ buffer, access: 'read' })) };
  };
  const recordsText = vec4 && vecWords ? `records of ${vecWords} floats as vec4${scalarWords ? ` and ${scalarWords} as floats` : ''}` : `records of ${scalarWords} floats`;

  const notes: string[] = [];
  const buffers: BufferDecl[] = [];
  const places = new Map<number, Segment[]>();
  const validation = new Map<number, Segment[]>();
  const residuals = new Map<number, Segment[]>();
  const decl = (label: string, words: number, uniform?: Record<string, number>) => buffers.push(uniform ? { label, words, uniform } : { label, words }) - 1;

  if (layout.maxStorageBuffers < 4) throw new PlanError(`the fused plans need 4 storage buffers per kernel, the device allows ${layout.maxStorageBuffers}`);
  const B = program.replicas.count;
  const names = theta.params.map((p) => p.name).join(', ');
  const thetaBuffer = decl(B > 1 ? `theta = [${names}] of ${B} replicates (${count} parameters each)` : `theta = [${names}] (${count} parameters)`, B * count);
  // With replicates, a parameter reads as every replicate's values one after another.
  for (const p of theta.params) places.set(p.id, Array.from({ length: B }, (_, r) => ({ buffer: thetaBuffer, offset: r * count + p.offset, words: p.size })));
  const snapshot = theta.params.map((p) => ({ id: p.id, offset: p.offset, words: p.size }));
  const state = decl(`${optimizer.name} state (${optimizer.slots} x ${B * count})`, Math.max(1, optimizer.slots * B * count));
  // Slot k of element i of theta (replicate r's at r * count + i) is at k * STATE_SLOT + i, STATE_SLOT = B * count.
  const stateOf = new Map(theta.params.map((p) => [p.id, Array.from({ length: optimizer.slots }, (_, k) => Array.from({ length: B }, (_, r) => ({ buffer: state, offset: k * B * count + r * count + p.offset, words: p.size })))]));

  /** Segments of every data input in `rowsIn` records from record `first` of a buffer that holds `total` records. */
  const placeRows = (buffer: number, first: number, rowsIn: number, total: number): Map<number, Segment> =>
    new Map(
      inputs.map((i) => {
        const { part, column } = columns.get(i.id)!;
        const [at, stride] = part === 'vec4' ? [first * vecWords, vecWords] : [total * vecWords + first * scalarWords, scalarWords];
        return [i.id, { buffer, offset: at + column, words: rowsIn * widthOf(i), stride, width: widthOf(i) }];
      }),
    );
  const what = inputs.map((i) => (i.attrs as { name: string }).name).join(' | ');
  /** Records in chunks that fit one binding; `after` more words (a residual bootstrap's rows) follow the rows of a single chunk. */
  const dataChunks = (set: string, rowsIn: number, after: { words: number; label: string } | null = null) => {
    const perChunk = Math.max(1, Math.floor(layout.maxBindingBytes / (4 * Math.max(1, rowWords))));
    const chunks: { start: number; rows: number; buffer: number }[] = [];
    for (let start = 0; start < rowsIn; start += perChunk) {
      const r = Math.min(perChunk, rowsIn - start);
      const suffix = rowsIn > perChunk ? ` rows ${start}..${start + r - 1}` : '';
      const tail = after && rowsIn <= perChunk ? after : null;
      chunks.push({ start, rows: r, buffer: decl(`${set} [${what}]${suffix}${tail ? `, then ${tail.label}` : ''}`, r * rowWords + (tail?.words ?? 0)) });
    }
    if (chunks.length > 1) notes.push(`the ${set} set is bound in ${chunks.length} chunks of at most ${perChunk} rows (binding limit ${layout.maxBindingBytes} bytes)`);
    const segs = new Map<number, Segment[]>(inputs.map((i) => [i.id, chunks.map((c) => placeRows(c.buffer, 0, c.rows, c.rows).get(i.id)!)]));
    return { chunks, segs };
  };

  const { records, control } = trainingBuffers(program, buffers);
  // Every replicate's parameters, optimizer state and counters sit in one binding each.
  for (const i of B > 1 ? [thetaBuffer, state, control] : []) {
    const bytes = 4 * buffers[i]!.words;
    if (bytes > layout.maxBindingBytes) throw new PlanError(`${B} replicates: the ${buffers[i]!.label} need ${bytes} bytes, over one binding (${layout.maxBindingBytes} bytes); train fewer replicates at once`);
  }
  const rw = (buffer: number): Binding => ({ buffer, access: 'rw' });
  const ro = (buffer: number): Binding => ({ buffer, access: 'read' });
  const trained = [...train.info.keys()].filter((id) => OPS[nodes[id]!.op].lower.kind !== 'leaf').sort((a, b) => a - b);
  const step = (label: string, kernel: Step['spec']['kernel'], holes: Record<string, string>, constants: Step['spec']['constants'], bindings: Binding[], groups: [number, number], bytes: Step['bytes'], stepNodes = trained): Step => ({
    label,
    nodes: stepNodes,
    spec: { kernel, holes: { CONTROL: CONTROL_WGSL, ...holes }, constants, access: bindings.map((b) => b.access) },
    bindings,
    groups,
    bytes,
  });
  const rule = RULES[optimizer.rule];
  const shuffle = { SHUFFLE: loader.shuffle, HALF: feistelHalf(n) };
  const batching = { N: n, BATCH: loader.batchSize, BATCHES: batches };
  const stateBytes = 4 * count * (1 + optimizer.slots);
  notes.push(...fusionNotes(train));
  if (unrollNote) notes.push(unrollNote);
  if (batches > 1) notes.push(`${batches} batches of ${loader.batchSize} rows per epoch${loader.shuffle ? ', shuffled on the device every epoch' : ''}${loader.dropLast && n % loader.batchSize ? `, the last ${n % loader.batchSize} rows dropped` : ''}`);

  // The single-dispatch plan: sized to the batch (more invocations would only add tree levels).
  const P = widest(train);
  const sums = Math.max(train.accumulators, valid?.accumulators ?? 0);
  const totals = Math.max(1, train.passes.length > 1 ? train.accumulators : 0, (valid?.passes.length ?? 0) > 1 ? valid!.accumulators : 0);
  const batchRows = Math.min(n, loader.batchSize);
  const serial = batchRows <= layout.serialMaxRows && (nv === 0 || nv <= layout.serialMaxRows);
  const wantedWG = serial ? 1 : Math.min(layout.tinyWorkgroup, 2 ** Math.ceil(Math.log2(Math.max(1, batchRows))));
  const tinyWG = serial ? 1 : fitWorkgroup(Math.max(P, widest(valid ?? train)), layout, wantedWG, 4 * totals);
  const dataWords = (n + nv) * rowWords + n * residWidth;
  const work = (n + nv) * sums;
  const epochsPerDispatch = work > layout.tinyMaxWork ? Math.max(1, Math.floor((layout.epochsPerDispatch * layout.tinyMaxWork) / work)) : layout.epochsPerDispatch;
  // Past the budget, each replicate's rows spread over many workgroups of the row passes: a GPU
  // would run a few single workgroups on a sliver of its cores, and even lavapipe ran 1.3-2.1x
  // faster spread (its row passes read rows faster than the single-dispatch kernel does).
  const spread = B > 1 && mode === 'auto' && work > layout.tinyMaxWork && layout.bigReplicas === 'fused' && B <= layout.maxGroupsPerDim;
  const tinyRefusal =
    work > layout.tinyMaxWork && B === 1
      ? `${n + nv} rows x ${sums} sums exceed one workgroup's budget (${layout.tinyMaxWork})`
      : dataWords * 4 > layout.maxBindingBytes
        ? `the data (${dataWords * 4} bytes) exceed one binding (${layout.maxBindingBytes} bytes)`
        : layout.maxStorageBuffers < 5
          ? `it binds 5 storage buffers and the device allows ${layout.maxStorageBuffers}`
          : !serial && tinyWG < Math.min(8, wantedWG)
            ? `${P} sums a row leave room for a workgroup of only ${tinyWG} in ${layout.maxWorkgroupBytes} bytes of shared memory`
            : null;
  const notTiny =
    mode === 'fused'
      ? 'the caller asked for row passes and a finishing kernel'
      : (tinyRefusal ?? (spread ? `${B} replicates of ${n + nv} rows x ${sums} sums, over one workgroup's budget (${layout.tinyMaxWork}): each one's rows spread over many workgroups` : null));
  if (notTiny) notes.push(`not the single-dispatch plan: ${notTiny}`);
  // Replicates: their count, where their counters start in control, their rows of hyperparameters.
  const hypers = Math.max(1, Object.keys(optimizer.hyper).length);
  const replicas: Record<string, number | boolean> = B > 1 ? { REPLICATES: B, REPLICA_AT: controlLayout(hypers, B).replicaAt } : {};
  const draws: Record<string, number | boolean> = B > 1 ? { BOOTSTRAP: bootstrap !== 'none', RESIDUALS: resid } : {};
  const drawn = { none: '', pairs: ', each on its own resample of the rows drawn on the device', residuals: ', each on the rows with a resample of the residuals added to its target, drawn on the device' }[bootstrap];
  const own = program.replicas.hyper ? ', each with its own hyperparameters' : '';
  if (!notTiny) {
    const dataLabel = `[${what}]: ${n} training rows${nv ? `, then ${nv} validation rows` : ''} (${recordsText})${resid ? `, then the residuals (${n} x ${residWidth})` : ''}`;
    const data = decl(dataLabel, dataWords);
    for (const [id, seg] of placeRows(data, 0, n, n + nv)) places.set(id, [seg]);
    if (nv) for (const [id, seg] of placeRows(data, n, nv, n + nv)) validation.set(id, [seg]);
    if (resid) residuals.set(target!, [{ buffer: data, offset: (n + nv) * rowWords, words: n * residWidth, stride: residWidth, width: residWidth }]);
    const dataViews = views(4, rows, data);
    const budget = work > layout.tinyMaxWork ? `${n + nv} rows x ${sums} sums over the budget of ${layout.tinyMaxWork}, so fewer epochs per dispatch` : `${n + nv} rows x ${sums} sums <= ${layout.tinyMaxWork}`;
    const form = serial ? `one invocation${B > 1 ? ' per replicate' : ''} walking every row (batches of at most ${layout.serialMaxRows} rows): no barriers` : `one workgroup of ${tinyWG}${B > 1 ? ' per replicate' : ''}`;
    notes.push(`the whole run in ${form}: ${budget}; up to ${epochsPerDispatch} epochs per dispatch`);
    const replicated = B > 1 ? { ...replicas, ...draws, HYPER_STRIDE: hypers } : {};
    if (B > 1) notes.push(`${B} replicates, one ${serial ? 'invocation' : 'workgroup'} each${drawn}${own}`);
    const options = { form: serial ? ('serial' as const) : ('lanes' as const), layout: rows, theta, loss, unroll };
    const steps = `${trainStep(train, options)}\n\n${validStep(valid, options)}`;
    const holes: Record<string, string> = { ...recordHoles, OPTIMIZER: rule, STEPS: steps, DATA: dataViews.text };
    if (!serial) Object.assign(holes, { TREE: TREE_WGSL, P: String(Math.max(P, widest(valid ?? train))), TOTALS: String(totals) });
    const s = step(
      B > 1 ? `${B} models: every batch of every epoch, forward, backward, update, loss record` : 'every batch of every epoch: forward, backward, update; loss record, validation, snapshots',
      serial ? 'serial' : 'tiny',
      holes,
      { ...(serial ? {} : { WG: tinyWG }), ...batching, VALID: nv, ...shuffle, MAX_EPOCHS: epochsPerDispatch, SCALAR_AT: (n + nv) * vecWords, RESIDUALS_AT: (n + nv) * rowWords, ...replicated },
      [rw(thetaBuffer), rw(state), rw(records), rw(control), ...dataViews.bindings],
      // Rows of the grid past the device's workgroups per dimension (the kernel skips the overhang).
      [Math.min(B, layout.maxGroupsPerDim), Math.ceil(B / layout.maxGroupsPerDim)],
      { read: 4 * dataWords + B * stateBytes, written: B * (stateBytes + 8) },
    );
    return { name: 'tiny', buffers, places, state: stateOf, validation, residuals, snapshot, evaluate: [], train: { kind: 'block', steps: [s], epochsPerDispatch }, records, control, notes };
  }

  // Replicates on this plan: every row pass runs B rows of workgroups (row r for replicate r), the
  // finishing kernels one workgroup per replicate; the data stay in one binding (a resampled row
  // may be any row) and the residuals follow the training rows.
  if (B > 1) {
    const refuse = (why: string) => new PlanError(`${B} replicates train together on row passes and a finishing kernel only ${why}`);
    const trainBytes = 4 * (n * rowWords + n * residWidth);
    if (Math.max(trainBytes, 4 * nv * rowWords) > layout.maxBindingBytes) throw refuse(`with their data in one binding, and here the data (${Math.max(trainBytes, 4 * nv * rowWords)} bytes) exceed one binding (${layout.maxBindingBytes} bytes)`);
    if (layout.maxStorageBuffers < 5) throw refuse(`with 5 storage buffers per kernel, and the device allows ${layout.maxStorageBuffers}`);
    if (B > layout.maxGroupsPerDim) throw refuse(`up to ${layout.maxGroupsPerDim} of them (the device's workgroups per dimension)`);
  }
  const trainData = dataChunks('training', n, B > 1 && resid ? { words: n * residWidth, label: `the residuals (${n} x ${residWidth})` } : null);
  for (const [id, segs] of trainData.segs) places.set(id, segs);
  if (B > 1 && resid) residuals.set(target!, [{ buffer: trainData.chunks[0]!.buffer, offset: n * rowWords, words: n * residWidth, stride: residWidth, width: residWidth }]);
  // Shared memory: the finishing kernels' tree holds every pass's sums per invocation; a row pass's
  // holds its own, and a later pass also keeps the earlier passes' totals.
  const treeWidth = Math.max(1, train.accumulators, valid?.accumulators ?? 0);
  const earlier = Math.max(train.passes.at(-1)?.at ?? 0, valid?.passes.at(-1)?.at ?? 0);
  const WG = fitWorkgroup(treeWidth, layout, 64, 4 * earlier);
  const shared = 4 * (WG * treeWidth + earlier);
  if (shared > layout.maxWorkgroupBytes) throw new Unfusable(`${treeWidth} sums over rows need ${shared} bytes of shared memory even for a workgroup of one, and the device allows ${layout.maxWorkgroupBytes}`);
  // A replicate's share of the workgroups one model would get: B models fill the device as one does.
  const cap = layout.rows === 'contiguous' ? layout.contiguousGroups : Math.min(layout.stridedGroups, layout.maxGroupsPerDim);
  const groupsFor = (rowsIn: number) => Math.max(1, Math.min(Math.ceil(rowsIn / WG), Math.ceil(cap / B)));
  notes.push(`rows layout: ${layout.rows}${layout.rows === 'contiguous' ? ' (each invocation reads its own run of rows)' : ' (grid stride)'}, up to ${cap} workgroups of ${WG}, ${recordsText}`);

  /**
   * One dispatch per pass and chunk (B workgroups high), each writing its pass's columns of its
   * groups' rows of `partials`. A chunk's place comes in its own uniform block, so all of a pass's
   * dispatches share one pipeline: the driver compiles each pass once, however many chunks.
   */
  const rowPasses = (s: Schedule, set: ReturnType<typeof dataChunks>, partials: number, extra: Record<string, number | boolean>, label: string, rowsRead: number, totalGroups: number) => {
    const out: Step[] = [];
    const TOTALS = Math.max(1, s.accumulators);
    const passRows = { ...rows, residualTarget: extra.RESIDUALS ? rows.residualTarget : null };
    // A wide input's rows shared by a subgroup's lanes where the adapter has subgroups (compile/team.ts).
    const team = layout.teamLanes ? teamFor(s, passRows, layout.teamLanes, layout.teamMinWidth, unroll) : null;
    if (team) notes.push(`${label}: ${teamNote(team, nodes)}`);
    s.passes.forEach((pass, p) => {
      const dataText = dataBindings(passRows, 4).text;
      const generated = team ? teamPassHoles(s, passRows, theta, unroll, team) : { ...rowPassHoles(s, p, passRows, theta, unroll), TREE: TREE_WGSL, P: String(Math.max(1, pass.size)) };
      const holes = { ...recordHoles, ...generated, PASS_AT: String(pass.at), TOTALS: String(TOTALS), DATA: dataText };
      const passNodes = passClosure(s, p);
      let base = 0;
      for (const c of set.chunks) {
        const groups = groupsFor(Math.min(c.rows, rowsRead));
        const where = set.chunks.length > 1 ? ` (rows ${c.start}..${c.start + c.rows - 1})` : '';
        const which = s.passes.length > 1 ? `pass ${p}: ` : '';
        const contiguous = layout.rows === 'contiguous' ? 1 : 0;
        // wgsl/row_pass.wgsl's struct Chunk, field by field.
        const fields = { start: c.start, rows: c.rows, group_base: base, scalar_at: c.rows * vecWords, contiguous, groups: totalGroups, replica_groups: B > 1 ? totalGroups : 0, unused: 0 };
        const block = decl(`${which}chunk block${where}`, 8, fields);
        out.push(
          step(
            `${which}${label}${where}`,
            team ? 'row_team' : 'row_pass',
            holes,
            { WG: team ? team.lanes : WG, ...replicas, ...extra },
            [ro(thetaBuffer), rw(partials), ro(control), { buffer: block, access: 'uniform' }, ...views(4, passRows, c.buffer).bindings],
            [groups, B],
            { read: B * (4 * Math.min(c.rows, rowsRead) * (rowWords + (extra.RESIDUALS ? residWidth : 0)) + 4 * count), written: B * 4 * groups * pass.size },
            passNodes,
          ),
        );
        base += groups;
      }
    });
    return out;
  };
  const perReplica = (groups: number): Record<string, number> => (B > 1 ? { REPLICA_GROUPS: groups } : {});
  const totalGroups = trainData.chunks.reduce((s, c) => s + groupsFor(Math.min(c.rows, loader.batchSize)), 0);
  const TOTALS = Math.max(1, train.accumulators);
  const split = layout.maxStorageBuffers < 5;
  const partialWords = B * totalGroups * TOTALS;
  if (B > 1 && 4 * partialWords > layout.maxBindingBytes) {
    throw new PlanError(`${B} replicates x ${totalGroups} workgroups x ${TOTALS} sums of partials need ${4 * partialWords} bytes, over one binding (${layout.maxBindingBytes} bytes); train fewer replicates at once`);
  }
  const partials = decl(`partials (${B > 1 ? `${B} replicates x ` : ''}${totalGroups} workgroups x ${TOTALS} sums)${split ? `, then the gradients (${count})` : ''}`, partialWords + (split ? count : 0));
  const batchLabel = batches > 1 ? 'one batch: its rows\' values, sums over its rows' : 'every row\'s values, sums over the rows';
  const residualsAt = n * rowWords;
  const kernel1 = rowPasses(train, trainData, partials, { N: n, BATCH: loader.batchSize, ...shuffle, ...draws, ...(resid ? { RESIDUALS_AT: residualsAt } : {}) }, B > 1 ? `${B} models, ${batchLabel}` : batchLabel, batchRows, totalGroups);
  if (B > 1) notes.push(`${B} replicates, each over ${totalGroups} workgroups of every row pass (a dispatch ${totalGroups} x ${B}) and one workgroup of the others${drawn}${own}`);

  const finishNodes = finishClosure(train);
  const reduceBytes = { read: B * (4 * totalGroups * TOTALS + stateBytes), written: B * (stateBytes + 4) };
  const kernel2: Step[] = [];
  // A finishing kernel is one workgroup per model, working alone: as wide as the single-dispatch
  // kernel's (one SIMD vector on a CPU adapter, where every barrier of a wider one switches lanes).
  const finishWG = Math.min(WG, layout.tinyWorkgroup);
  const finishConstants = { WG: finishWG, GROUPS: totalGroups, ...batching, ...replicas, ...perReplica(totalGroups), ...(B > 1 ? { HYPER_STRIDE: hypers } : {}) };
  const finishHoles = { COUNT: String(count), TOTALS: String(TOTALS), TREE: TREE_WGSL, EPOCH: EPOCH_WGSL };
  // The finishing kernel's bindings: with the optimizer's state, or (4 storage buffers) without it.
  const binding = (k: number, access: 'read' | 'read_write', name: string, type = 'f32') => `@group(0) @binding(${k}) var<storage, ${access}> ${name}: array<${type}>;`;
  const finishBindings = split
    ? [binding(0, 'read_write', 'partials'), binding(1, 'read', 'params'), binding(2, 'read_write', 'records'), binding(3, 'read_write', 'control', 'u32')]
    : [binding(0, 'read', 'partials'), binding(1, 'read_write', 'params'), binding(2, 'read_write', 'state'), binding(3, 'read_write', 'records'), binding(4, 'read_write', 'control', 'u32')];
  const holes = { ...finishHoles, BINDINGS: finishBindings.join('\n') };
  if (!split) {
    const label = B > 1 ? `${B} models, each: finish its sums, loss and gradients, update; at the epoch end record its loss, flag its divergence` : 'finish the sums, loss and gradients, update; at the epoch end record the loss, flag divergence, snapshot';
    kernel2.push(step(label, 'finish', { ...holes, OPTIMIZER: rule, FINISH: finishHole(train, loss, theta, 'update', unroll) }, finishConstants, [ro(partials), rw(thetaBuffer), rw(state), rw(records), rw(control)], [B, 1], reduceBytes, finishNodes));
  } else {
    notes.push(`the finishing kernel would bind 5 storage buffers and the device allows ${layout.maxStorageBuffers}: it stores the gradients and an update kernel applies them (no parameter snapshots)`);
    snapshot.length = 0;
    kernel2.push(step('finish the sums, loss and gradients (stored); at the epoch end record the loss, flag divergence', 'finish', { ...holes, OPTIMIZER: '', FINISH: finishHole(train, loss, theta, 'store', unroll) }, { ...finishConstants, GRADS_AT: partialWords }, [rw(partials), ro(thetaBuffer), rw(records), rw(control)], [1, 1], { read: 4 * totalGroups * TOTALS, written: 4 * (count + 1) }, finishNodes));
    kernel2.push(
      step(`${optimizer.name} update of theta`, 'update', { OPTIMIZER: rule }, { WG, COUNT: count, GRADS_AT: partialWords }, [rw(thetaBuffer), ro(partials), rw(state), ro(control)], [Math.max(1, Math.ceil(count / WG)), 1], {
        read: 4 * count * (2 + optimizer.slots),
        written: 4 * count * (1 + optimizer.slots),
      }, []),
    );
  }
  const steps: Step[] = [];
  for (let b = 0; b < batches; b++) steps.push(...kernel1, ...kernel2);

  if (valid) {
    const vData = dataChunks('validation', nv);
    for (const [id, segs] of vData.segs) validation.set(id, segs);
    const vGroups = vData.chunks.reduce((s, c) => s + groupsFor(c.rows), 0);
    const VTOTALS = Math.max(1, valid.accumulators);
    const vPartials = decl(`validation partials (${B > 1 ? `${B} replicates x ` : ''}${vGroups} workgroups x ${VTOTALS} sums)`, B * vGroups * VTOTALS);
    steps.push(...rowPasses(valid, vData, vPartials, { N: nv, BATCH: nv, WHOLE: true }, 'validation set: its rows\' values, sums over its rows', nv, vGroups));
    const label = B > 1 ? `${B} models, each: finish its validation sums, record its validation loss` : 'finish the validation sums, record the validation loss';
    const holes = { COUNT: String(count), TOTALS: String(VTOTALS), TREE: TREE_WGSL, FINISH: finishHole(valid, loss, theta, 'update', unroll, false) };
    steps.push(step(label, 'valid_finish', holes, { WG: finishWG, GROUPS: vGroups, N: nv, ...replicas, ...perReplica(vGroups) }, [ro(vPartials), ro(thetaBuffer), rw(records), ro(control)], [B, 1], { read: B * 4 * vGroups * VTOTALS, written: B * 4 }, finishClosure(valid)));
  }
  return { name: 'fused', buffers, places, state: stateOf, validation, residuals, snapshot, evaluate: [], train: { kind: 'per-epoch', steps }, records, control, notes };
}

/** What fused with what, and why each kernel of a step ends where it does, for the plan's notes. */
export function fusionNotes(s: Schedule): string[] {
  const ids = (list: number[]) => list.map((id) => `%${id}`).join(' ');
  const notes = s.passes.map((pass, p) => {
    const perRow = passClosure(s, p).filter((id) => s.info.get(id)!.rowAxis !== null);
    const sums = pass.sums.map((x) => `%${x.id} ${s.graph.nodes[x.id]!.op}`).join(', ');
    const waits = p === 0 ? '' : `; it waits for the sums before it, which its rows read (${ids(s.passes.slice(0, p).flatMap((q) => q.sums.map((x) => x.id)).filter((id) => perRow.some((r) => s.graph.nodes[r]!.inputs.includes(id))))})`;
    return `row pass ${p}: ${perRow.length} nodes run per row in registers (${ids(perRow)}); it ends at the sums over rows ${sums} (${pass.size} values), which need every row before anything reads them${waits}`;
  });
  const finish = finishClosure(s).filter((id) => !s.sums.has(id));
  notes.push(`finishing step: the sums finished, then ${finish.length ? `${ids(finish)}, ` : ''}the loss and the gradients, and the optimizer's update of every parameter`);
  return notes;
}

/** The nodes a row pass computes: its sums and what they read, down to the sums of earlier passes (read finished). */
function passClosure(s: Schedule, p: number): number[] {
  const own = new Set(s.passes[p]!.sums.map((x) => x.id));
  return closure(s, [...own], (id) => !s.sums.has(id) || own.has(id));
}

/** The nodes a finishing step computes: the targets and the values without rows they read, down to the finished sums. */
function finishClosure(s: Schedule): number[] {
  return closure(s, s.targets, (id) => !s.sums.has(id));
}

/** `roots` and their operands, through the nodes `into` lets the walk enter; leaves (data, not work) left out; in graph order. */
function closure(s: Schedule, roots: number[], into: (id: number) => boolean): number[] {
  const out = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (out.has(id)) continue;
    out.add(id);
    if (into(id)) stack.push(...s.graph.nodes[id]!.inputs);
  }
  return [...out].filter((id) => OPS[s.graph.nodes[id]!.op].lower.kind !== 'leaf').sort((a, b) => a - b);
}
