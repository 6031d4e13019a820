/**
 * @file Every core for the CPU's compiled plan: a team of worker threads that each run the
 * generated row passes (compile/js.ts) on their share of a batch's rows and meet once per pass.
 *
 * - The data, parameters, totals and the epoch's order live in SharedArrayBuffers, so a worker
 *   reads what the main thread wrote with no copy; each thread writes its sums to its own block
 *   of `partials`, and the main thread adds the blocks up in thread order (the same total on
 *   every run).
 * - The main thread is thread 0 and sums its own share while the workers sum theirs; commands
 *   and completions go through a small Int32Array with Atomics (wait and notify), a few
 *   microseconds, not a message per step.
 * - Workers start once per model, are unref'd (a script that forgets `dispose()` still exits)
 *   and end with `dispose()`. A worker that throws fails the run with its message.
 * - Worker threads come from Node's worker_threads (Deno runs them too, through its Node
 *   compatibility: 1e6 x 16 took 18 ms an epoch on 2 threads there, 42 on one), and in a browser
 *   from Web Workers on a cross-origin isolated page, whose main thread may not sleep in
 *   Atomics.wait and spins instead; elsewhere the plan runs on one thread and explain says so.
 */
import { type JsStep, WARM_CALLS, WARM_ROWS } from '../compile/js.js';

type Arrays = Float32Array | Float64Array;

/**
 * The fewest rows a batch (or the validation set) needs before its passes are split across
 * threads: below it, the hand-off costs about what it saves. Measured on this machine's 2 cores
 * (the regression, SGD, ms an epoch on 1 and 2 threads): 500x16 0.011 and 0.009, 1000x4 0.009 and
 * 0.008, 3000x4 0.026 and 0.019, 2000x16 0.042 and 0.027, 1e6x16 46 and 23.
 */
export const THREAD_MIN_ROWS = 4096;

/** Threads a compiled plan takes unless told: every core once a batch (or the validation set) has `rows` >= THREAD_MIN_ROWS, else one. */
export const defaultThreads = (rows: number, cores: number): number => (rows >= THREAD_MIN_ROWS ? cores : 1);

/** The most threads a plan takes (the compile option's bound). */
export const MAX_THREADS = 256;

/** Slots of the control block. */
const SEQ = 0; // bumped for every command
const DONE = 1; // workers finished with the current command
const CMD = 2; // 0: exit, 1: a training pass, 2: a validation pass
const PASS = 3;
const FIRST = 4;
const LAST = 5;
const M = 6;
const SHORT = 7;
const ORDER = 8; // 1: positions go through `order`
const DRAWS = 9; // 1: residual rows from `draws`
const FAILED = 10; // 1 + the index of a worker that threw
const SLOTS = 11;
const MESSAGE_BYTES = 2048;

/**
 * Loads of the control block a thread spins through before it sleeps in Atomics.wait (tens of
 * microseconds): the next pass's command comes that soon while a run trains, and a sleeping
 * thread took about 0.1 ms to wake on this machine, more than a small pass takes.
 */
const SPIN = 20000;

/**
 * A worker's program: plain JavaScript (it runs from a string, with no module around it), the
 * generated factories made into functions over the shared arrays, then a loop that waits for a
 * command, sums its share of the rows and says it is done. `ready` tells the main thread its
 * functions are made.
 */
const LOOP = `function (w, ready) {
  const make = (source, data, residuals) => source && new Function('return (\\n' + source + '\\n);')()(data, w.params, residuals, w.totals, null);
  const train = make(w.trainSource, w.data, w.residuals);
  const valid = make(w.validSource, w.validData, null);
  // Warmed as compile/js.ts's instantiate warms the main thread's (see WARM_CALLS there).
  const scratch = new Float64Array(w.width);
  const draws = new Int32Array(${WARM_ROWS});
  for (let k = 0; k < ${WARM_CALLS}; k++) {
    for (const step of [train, valid]) if (step) step.passes.forEach((pass) => pass(null, draws, 0, Math.min(w.rows, ${WARM_ROWS}), 1, false, scratch));
  }
  ready();
  const ctl = w.control;
  const out = w.partials.subarray(w.index * w.width, (w.index + 1) * w.width);
  let seen = 0;
  for (;;) {
    for (let i = 0; i < ${SPIN} && Atomics.load(ctl, ${SEQ}) === seen; i++);
    Atomics.wait(ctl, ${SEQ}, seen);
    seen = Atomics.load(ctl, ${SEQ});
    const cmd = ctl[${CMD}];
    if (cmd === 0) break;
    try {
      const first = ctl[${FIRST}], span = ctl[${LAST}] - first;
      const a = first + Math.floor((span * w.index) / w.threads);
      const b = first + Math.floor((span * (w.index + 1)) / w.threads);
      const step = cmd === 1 ? train : valid;
      step.passes[ctl[${PASS}]](ctl[${ORDER}] ? w.order : null, ctl[${DRAWS}] ? w.draws : null, a, b, ctl[${M}], ctl[${SHORT}] === 1, out);
    } catch (e) {
      const text = new TextEncoder().encode(String((e && e.stack) || e)).subarray(0, ${MESSAGE_BYTES});
      w.message.set(text);
      Atomics.store(ctl, ${FAILED}, w.index + 1);
    }
    Atomics.add(ctl, ${DONE}, 1);
    Atomics.notify(ctl, ${DONE});
  }
}`;

/** The worker in Node and Deno (node:worker_threads, its data given at start) and in a browser (a Web Worker, its data posted). */
const NODE_WORKER = `const { parentPort, workerData } = require('node:worker_threads');\n(${LOOP})(workerData, () => parentPort.postMessage('ready'));`;
const WEB_WORKER = `self.onmessage = (e) => (${LOOP})(e.data, () => self.postMessage('ready'));`;

/** Node or Deno: worker_threads, and a main thread that may sleep in Atomics.wait. */
const nodeLike = () => typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Threads the runtime lets us have: Node's worker_threads (in Node or Deno), Web Workers on a
 * cross-origin isolated page (the only pages with SharedArrayBuffer), or none (one thread).
 */
export function threadsAvailable(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  if (nodeLike()) return true;
  return typeof Worker === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** Float arrays in shared memory, for a team's threads to read. */
export function sharedArray(Arr: Float64ArrayConstructor, length: number): Float64Array;
export function sharedArray(Arr: Float32ArrayConstructor | Float64ArrayConstructor, length: number): Arrays;
export function sharedArray(Arr: Float32ArrayConstructor | Float64ArrayConstructor, length: number): Arrays {
  // (This TypeScript lib types the float arrays over ArrayBuffer only; a SharedArrayBuffer serves as well.)
  return new Arr(new SharedArrayBuffer(length * Arr.BYTES_PER_ELEMENT) as unknown as ArrayBuffer);
}

export interface TeamArrays {
  trainSource: string;
  validSource: string | null;
  data: Arrays[];
  validData: Arrays[];
  params: Arrays[];
  residuals: Arrays | null;
  totals: Float64Array;
  order: Int32Array;
  draws: Int32Array | null;
}

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  once(event: string, listener: (value: unknown) => void): void;
}

/** Worker threads running a compiled plan's row passes, with the main thread as thread 0. */
export class Team {
  private readonly control = new Int32Array(new SharedArrayBuffer(4 * SLOTS));
  private readonly message = new Uint8Array(new SharedArrayBuffer(MESSAGE_BYTES));
  private readonly partials: Float64Array;
  private readonly own: Float64Array;
  private workers: { terminate(): unknown }[] = [];
  /** A browser's main thread may not sleep in Atomics.wait: it spins until the workers are done. */
  private readonly canSleep = nodeLike() || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

  private constructor(
    readonly threads: number,
    private readonly arrays: TeamArrays,
    private readonly width: number,
  ) {
    this.partials = sharedArray(Float64Array, threads * width);
    this.own = this.partials.subarray(0, width);
  }

  /** Starts `threads - 1` workers (the main thread is the other) and waits until each has made its functions. */
  static async start(threads: number, arrays: TeamArrays): Promise<Team> {
    const team = new Team(threads, arrays, arrays.totals.length);
    const data = (i: number) => ({ ...arrays, rows: arrays.order.length, index: i + 1, threads, width: team.width, control: team.control, partials: team.partials, message: team.message });
    const started = nodeLike() ? await team.startNode(data) : team.startWeb(data);
    try {
      await Promise.all(started);
    } catch (e) {
      team.dispose();
      throw e;
    }
    return team;
  }

  private async startNode(data: (i: number) => object): Promise<Promise<void>[]> {
    const { Worker } = await import('node:worker_threads');
    return Array.from({ length: this.threads - 1 }, (_, i) => {
      // No execArgv: a parent run as `node --input-type=module` would make the worker's script a module.
      const worker = new Worker(NODE_WORKER, { eval: true, workerData: data(i), execArgv: [] }) as unknown as NodeWorker;
      this.workers.push(worker);
      return new Promise<void>((resolve, reject) => {
        // Held until its functions are made (an unref'd worker would let the process exit while we wait), then let go.
        worker.once('message', () => {
          worker.unref();
          resolve();
        });
        worker.once('error', (e) => reject(new Error(`a CPU worker thread failed to start: ${(e as Error).message}`)));
        worker.once('exit', (code) => reject(new Error(`a CPU worker thread exited (code ${code}) before it was ready`)));
      });
    });
  }

  private startWeb(data: (i: number) => object): Promise<void>[] {
    const url = URL.createObjectURL(new Blob([WEB_WORKER], { type: 'text/javascript' }));
    const started = Array.from({ length: this.threads - 1 }, (_, i) => {
      const worker = new Worker(url);
      this.workers.push(worker);
      const ready = new Promise<void>((resolve, reject) => {
        worker.onmessage = () => resolve();
        worker.onerror = (e) => reject(new Error(`a CPU worker thread failed to start: ${e.message}`));
      });
      worker.postMessage(data(i));
      return ready;
    });
    // The script's URL is needed until every worker has loaded it.
    void Promise.allSettled(started).then(() => URL.revokeObjectURL(url));
    return started;
  }

  /**
   * Runs pass p of the training step (or of the validation loss) on positions [first, last),
   * split across the threads, and leaves its finished sums in `totals`.
   */
  run(step: JsStep, training: boolean, p: number, sums: { at: number; size: number }, order: Int32Array | null, draws: Int32Array | null, first: number, last: number, m: number, short: boolean): void {
    const c = this.control;
    c[CMD] = training ? 1 : 2;
    c[PASS] = p;
    c[FIRST] = first;
    c[LAST] = last;
    c[M] = m;
    c[SHORT] = short ? 1 : 0;
    c[ORDER] = order ? 1 : 0;
    c[DRAWS] = draws ? 1 : 0;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
    // Thread 0's share, while the others sum theirs.
    const span = last - first;
    step.passes[p]!(order, draws, first, first + Math.floor(span / this.threads), m, short, this.own);
    const others = this.threads - 1;
    for (let i = 0; (i < SPIN || !this.canSleep) && Atomics.load(c, DONE) < others; i++);
    for (let done = Atomics.load(c, DONE); done < others; done = Atomics.load(c, DONE)) Atomics.wait(c, DONE, done);
    const failed = Atomics.load(c, FAILED);
    if (failed) {
      const text = new TextDecoder().decode(this.message.slice()).replace(/\0+$/, '');
      throw new Error(`CPU worker thread ${failed - 1} failed: ${text}`);
    }
    const { totals } = this.arrays;
    for (let k = sums.at; k < sums.at + sums.size; k++) {
      let s = 0;
      for (let t = 0; t < this.threads; t++) s += this.partials[t * this.width + k]!;
      totals[k] = s;
    }
  }

  dispose(): void {
    if (!this.workers.length) return;
    this.control[CMD] = 0;
    Atomics.add(this.control, SEQ, 1);
    Atomics.notify(this.control, SEQ);
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }
}

/** The cores this runtime reports: navigator.hardwareConcurrency, or Node's os module; undefined if neither. */
export async function cpuCount(): Promise<number | undefined> {
  const fromNavigator = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (fromNavigator) return fromNavigator;
  if (typeof process === 'undefined' || !process.versions?.node) return undefined;
  const os = await import('node:os');
  return os.availableParallelism?.() ?? os.cpus().length;
}
