/** @file Small helpers that read command-line options and turn bad ones into usage errors (exit 2). */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sameFile } from './atomic.js';
import { writeFile } from './child.js';

/** Bad usage or bad data: the command prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Values = Record<string, string | boolean | undefined>;

export function numberOption(values: Values, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name}: expected a number, got "${raw}"`);
  return v;
}

export function intOption(values: Values, name: string, fallback: number, min: number): number {
  const v = numberOption(values, name, fallback);
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${name}: expected an integer >= ${min}, got ${values[name]}`);
  return v;
}

export function oneOf(values: Values, name: string, allowed: string[], fallback: string): string {
  const raw = values[name] ?? fallback;
  if (typeof raw !== 'string' || !allowed.includes(raw)) throw new UsageError(`--${name}: expected one of ${allowed.join(', ')}, got "${raw}"`);
  return raw;
}

/**
 * Checks, before any training, that the file an option names can be written: its folder exists
 * and is writable, and it is not a folder itself. A long run then never ends in a failed write.
 */
export function writableFile(flag: string, file: string): string {
  const dir = dirname(resolve(file));
  let why: string | null = null;
  try {
    if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) why = 'it is a folder';
    else accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    why = code === 'ENOENT' ? `the folder ${dir} does not exist` : `the folder ${dir} is not writable (${code})`;
  }
  if (why) throw new UsageError(`--${flag} ${file}: cannot write there: ${why}`);
  return file;
}

/** Creates the folder an option names (with its parents), or says why it cannot. */
export function writableFolder(flag: string, dir: string): string {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new UsageError(`--${flag} ${dir}: cannot write there (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return dir;
}

/**
 * Refuses, before any work, an output that names a file the command reads (`--save data.csv`
 * would replace the data with a model): nothing fusegrad reads is overwritten by the same command.
 */
export function notAnInput(flag: string, file: string, inputs: [what: string, path: string][]): void {
  const hit = inputs.find(([, path]) => sameFile(file, path));
  if (hit) throw new UsageError(`--${flag} ${file}: that is the ${hit[0]} this command reads; write to another file`);
}

/**
 * Work done, but an output file could not be written (a full disk, a folder removed meanwhile):
 * the command prints its report (or JSON) all the same, then each failure, and exits 4. The files
 * named keep what they held before (cli/atomic.ts).
 */
export class Unwritten extends Error {
  override name = 'Unwritten';
  constructor(
    readonly failures: string[],
    readonly report: string,
  ) {
    super(failures.join('\n'));
  }
}

/**
 * Writes an output file atomically (by the parent process when there is one, cli/child.ts); a
 * failure names the option and the file, and rejects with that message.
 */
export async function writeOutput(flag: string, file: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFile(file, data);
  } catch (err) {
    throw new Error(`--${flag} ${file}: the write failed (${(err as Error).message}); the file keeps what it held before`);
  }
}
