/** @file Small helpers that read command-line options and turn bad ones into usage errors (exit 2). */

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
