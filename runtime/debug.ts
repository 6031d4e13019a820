/**
 * @file The FUSEGRAD_DEBUG ladder. Each level adds to the one below; diagnostics go to stderr so
 * stdout stays clean for results (`--json`).
 *   1  one line per compile (plan, dispatches per epoch, buffers) and per run (epochs, time, work)
 *   2  + the WGSL of every pipeline as it is compiled
 *   3  + the forward and backward graphs at compile time
 *   4  + per-kernel GPU time from timestamp queries: the only level that adds syncs and passes
 */

/**
 * The level and the sink live on globalThis, so every copy of fusegrad in a process (two bundles,
 * say) follows one setting.
 */
interface DebugState {
  forced: number | null;
  sink: (line: string) => void;
}
const state: DebugState = ((globalThis as Record<symbol, unknown>)[Symbol.for('fusegrad.debug')] ??= {
  forced: null,
  sink: (line: string) => console.error(line),
}) as DebugState;

/** The active level: setDebug's value if set, else the FUSEGRAD_DEBUG environment variable, else 0. */
export function debugLevel(): number {
  if (state.forced !== null) return state.forced;
  const level = Number(environment('FUSEGRAD_DEBUG') ?? 0);
  return Number.isFinite(level) ? level : 0;
}

interface DenoEnv {
  permissions: { querySync?(d: { name: 'env'; variable: string }): { state: string } };
  env: { get(name: string): string | undefined };
}

/**
 * An environment variable, or undefined where there is none to read. Deno without --allow-env
 * refuses the read (and, on a terminal, would ask the user first): a variable it is not allowed to
 * read counts as unset, asked without a prompt.
 */
export function environment(name: string): string | undefined {
  try {
    const deno = (globalThis as { Deno?: DenoEnv }).Deno;
    if (deno) return deno.permissions.querySync?.({ name: 'env', variable: name }).state === 'granted' ? deno.env.get(name) : undefined;
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  } catch {
    return undefined;
  }
}

/** Sets the level from code (browsers and Deno have no environment to read); null goes back to the environment. */
export function setDebug(level: number | null): void {
  state.forced = level;
}

/** Routes debug output elsewhere (tests capture it); returns the previous sink. */
export function setDebugSink(next: (line: string) => void): (line: string) => void {
  const prev = state.sink;
  state.sink = next;
  return prev;
}

/** Writes `text` when the level is at least `level`. */
export function debug(level: number, text: string | (() => string)): void {
  if (debugLevel() >= level) state.sink(typeof text === 'string' ? text : text());
}
