/** @file Small helpers that read command-line options and turn bad ones into usage errors (exit 2). */
import { accessSync, constants, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

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

/** Writes an output file; a failure (a full disk, a folder removed meanwhile) names the option and the file. */
export function writeOutput(flag: string, file: string, data: string | Uint8Array): void {
  try {
    writeFileSync(file, data);
  } catch (err) {
    throw new UsageError(`--${flag} ${file}: the write failed (${(err as Error).message})`);
  }
}
