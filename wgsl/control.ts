/**
 * @file The control buffer's layout, the one table both TypeScript and WGSL read (the WGSL
 * constants, the Counters struct and `counters` in control.wgsl are made from it), and the
 * divergence rule's TypeScript twin.
 *
 * The buffer: the header words below, then each replicate's row of hyperparameters, then (with
 * several replicates) one block of REPLICATES words per counter, each replicate's own.
 */

/** The header's words in order: name (C_<name> in WGSL) and what it holds (u32; f32 bits where said). */
const WORDS = [
  ['EPOCH', 'epochs done in this run: where the next loss is recorded'],
  ['RUN', 'epochs in this run'],
  ['STEP', "optimizer steps taken, kept across runs (Adam's t)"],
  ['BATCH', 'the batch being trained within the epoch'],
  ['EPOCHS_TOTAL', "epochs done since compile, kept across runs: the shuffle's key"],
  ['LOSS_SUM', "this epoch's batch losses so far (f32 bits)"],
  ['DIVERGED', "1 + the run's epoch whose loss diverged (`diverging`); 0 before"],
  ['VALID_AT', 'where validation losses start in `records`'],
  ['PARAMS_AT', 'where parameter snapshots start in `records`'],
  ['PARAMS_EVERY', 'a snapshot after every k-th epoch (0: none)'],
  ['SEED', "the shuffle's seed"],
  ['REFERENCE', "the divergence rule's reference loss (f32 bits; <= 0: not yet set, minus its floor)"],
] as const;

type Word = (typeof WORDS)[number][0];

/** Each header word's index. */
export const CONTROL = Object.fromEntries(WORDS.map(([name], i) => [name, i])) as { readonly [K in Word]: number };

/** Words before the hyperparameters. */
export const HYPER = WORDS.length;

/** The counters every model keeps: its field in WGSL's Counters, and the header word one model keeps it in. */
const COUNTERS = [
  ['epoch', 'EPOCH'],
  ['step', 'STEP'],
  ['total', 'EPOCHS_TOTAL'],
  ['diverged', 'DIVERGED'],
  ['batch', 'BATCH'],
  ['loss_sum', 'LOSS_SUM'],
  ['reference', 'REFERENCE'],
] as const satisfies readonly (readonly [string, Word])[];

/** With replicates, the blocks of per-replicate counters after the hyperparameters, in order. */
export const REPLICA_COUNTERS = COUNTERS.map(([field]) => field);

/** Where things sit in the control buffer of `replicates` models with `hypers` hyperparameters each. */
export function controlLayout(hypers: number, replicates: number) {
  const h = Math.max(1, hypers);
  const replicaAt = HYPER + h * replicates;
  return {
    /** Where the replicates' counter blocks start (REPLICA_AT in WGSL). */
    replicaAt,
    /** Where counter `field` of replicate 0 sits: in the header for one model, in its block for several. */
    counter: (field: (typeof REPLICA_COUNTERS)[number]): number => (replicates > 1 ? replicaAt + REPLICA_COUNTERS.indexOf(field) * replicates : CONTROL[COUNTERS.find(([f]) => f === field)![1]]),
    /** Words in all. */
    words: replicaAt + (replicates > 1 ? COUNTERS.length * replicates : 0),
  };
}

/** The WGSL of the table: the header's constants, the Counters struct and `counters(r)`, for control.wgsl's {{WORDS}} hole. */
export function controlWords(): string {
  const decls = [...WORDS.map(([name], i) => `const C_${name}: u32 = ${i}u;`), `const HYPER: u32 = ${HYPER}u;`];
  const width = Math.max(...decls.map((d) => d.length)) + 1;
  const consts = WORDS.map(([, what], i) => `${decls[i]!.padEnd(width)} // ${what}`);
  const fields = COUNTERS.map(([field, word]) => `  ${`${field}: u32,`.padEnd(16)} // as C_${word}`);
  const blocks = COUNTERS.map((_, k) => (k === 0 ? 'at' : k === 1 ? 'at + B' : `at + ${k}u * B`));
  return [
    ...consts,
    `${decls.at(-1)!.padEnd(width)} // the optimizer's hyperparameters start here`,
    '',
    "// Where a model's counters live in control: the header words above for one model; with several,",
    `// ${COUNTERS.length} blocks of REPLICATES words from REPLICA_AT, so that no replicate reads another's (workgroups`,
    '// of one dispatch may run in any order, and a diverged replicate stops alone).',
    'struct Counters {',
    ...fields,
    '}',
    '',
    'fn counters(r: u32) -> Counters {',
    '  if (REPLICATES == 1u) {',
    `    return Counters(${COUNTERS.map(([, word]) => `C_${word}`).join(', ')});`,
    '  }',
    '  let at = REPLICA_AT + r;',
    '  let B = REPLICATES;',
    `  return Counters(${blocks.join(', ')});`,
    '}',
  ].join('\n');
}

/**
 * How many times its reference a loss may grow before it counts as diverged: control.wgsl's
 * RUNAWAY, where the rule and its reasons are written down.
 */
export const RUNAWAY = 1e6;

/**
 * The divergence rule, control.wgsl's `diverging`: a loss that is not finite, or one grown past
 * RUNAWAY times `reference`, the larger of the loss of the first epoch since the data or
 * parameters were written and the host's floor (0 or less while unset).
 */
export function diverging(loss: number, reference: number): boolean {
  return !Number.isFinite(loss) || (reference > 0 && loss > RUNAWAY * reference);
}

/** control.wgsl's `reference_after`: the reference once set (positive), else the larger of this epoch's loss and the floor (minus the unset word). */
export function referenceAfter(loss: number, reference: number): number {
  return reference <= 0 && Number.isFinite(loss) ? Math.max(loss, -reference) : reference;
}
