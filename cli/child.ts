/**
 * @file The command as a parent and a child. `fit`, `explain` and `bench` run again as a child
 * process (cli/quiet.ts says why: Dawn's native stderr lines), and the parent owns everything that
 * must outlive or outrank the child: the files (the child asks, the parent writes them atomically),
 * the signals (SIGINT, SIGTERM and SIGHUP to the parent end the child at once, even in the middle
 * of a synchronous CPU run, and the parent says what was interrupted), and the child's life (a
 * child whose parent died, even by SIGKILL, ends itself and can write nothing).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { writeAtomic } from './atomic.js';
import { CHILD, STDERR_TTY, dawnFilter } from './quiet.js';

/** What the child tells its parent: a file to write, or what it is doing now (for the message a signal prints). */
type ToParent = { kind: 'write'; id: number; file: string; data: string | Uint8Array } | { kind: 'stage'; text: string };
type ToChild = { kind: 'written'; id: number; error: string | null };

const underParent = () => process.env[CHILD] === '1' && typeof process.send === 'function';

/**
 * Runs the command again as a child (stderr filtered of Dawn's lines when `filter`), and resolves
 * to its exit code: 128 + the signal's number when a signal ended it.
 */
export function runChild(argv: string[], filter: boolean): Promise<number> {
  const columns = process.stderr.isTTY ? String(process.stderr.columns || 80) : '';
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...argv], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    serialization: 'advanced',
    env: { ...process.env, [CHILD]: '1', [STDERR_TTY]: columns },
  });
  const out = filter ? dawnFilter((text) => process.stderr.write(text)) : { push: (text: string) => process.stderr.write(text), end: () => {} };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => out.push(chunk));

  let stage = 'starting';
  const written: string[] = [];
  let interrupted: NodeJS.Signals | null = null;
  child.on('message', (m: ToParent) => {
    if (m.kind === 'stage') stage = m.text;
    if (m.kind !== 'write') return;
    let error: string | null = null;
    // Once a signal came, nothing more is written: the run is being ended.
    if (interrupted) error = `interrupted by ${interrupted}`;
    else {
      try {
        writeAtomic(m.file, m.data);
        written.push(m.file);
      } catch (err) {
        error = (err as Error).message;
      }
    }
    if (child.connected) child.send({ kind: 'written', id: m.id, error } satisfies ToChild);
  });

  // A signal to the parent (Ctrl-C reaches both; `kill <pid>` only the parent) ends the child at
  // once: it has no handlers of its own, so even a synchronous CPU run stops, and it writes no file
  // itself. The parent waits for it to go, then says what was interrupted.
  const pass = (signal: NodeJS.Signals) => () => {
    interrupted ??= signal;
    child.kill(signal);
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, pass(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`fusegrad: could not run the command (${err.message})\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      out.end();
      for (const [s, h] of handlers) process.off(s, h);
      const by = interrupted ?? signal;
      if (!by) return resolve(code ?? 1);
      const files = written.length ? `only these were written, each complete: ${written.join(', ')}` : 'no file was written';
      process.stderr.write(`fusegrad ${argv[0]}: interrupted by ${by} while ${stage}; ${files}\n`);
      resolve(128 + constants.signals[by]);
    });
  });
}

/**
 * In the child: ends this process when its parent is gone. A watchdog thread checks the parent's
 * pid, so that a child busy in a synchronous CPU run (whose event loop would never see the IPC
 * channel close) ends as promptly as one waiting on the GPU.
 */
export function watchParent(): void {
  if (!underParent()) return;
  process.on('disconnect', orphaned);
  const source = `const { workerData } = require('node:worker_threads');
setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 250);`;
  new Worker(source, { eval: true, workerData: process.ppid }).unref();
}

const orphaned = () => process.exit(1);

/** In the child, after the command: closes the IPC channel (which keeps a process alive while it is open). */
export function leaveParent(): void {
  if (!underParent() || !process.connected) return;
  process.off('disconnect', orphaned);
  process.disconnect();
}

/** Tells the parent what the command is doing, for the message a signal prints ("training: 0 of 1000 epochs done"). */
export function stage(text: string): void {
  if (underParent() && process.connected) process.send!({ kind: 'stage', text } satisfies ToParent);
}

let nextId = 0;

/**
 * Writes a file atomically: in the child, by asking the parent (so that no file is written once
 * the parent is gone or a signal came), else here. Rejects with the write's error.
 */
export function writeFile(file: string, data: string | Uint8Array): Promise<void> {
  if (!underParent()) return Promise.resolve().then(() => writeAtomic(file, data));
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const answer = (m: ToChild) => {
      if (m.kind !== 'written' || m.id !== id) return;
      process.off('message', answer);
      if (m.error) reject(new Error(m.error));
      else resolve();
    };
    process.on('message', answer);
    process.send!({ kind: 'write', id, file, data } satisfies ToParent, (err: Error | null) => {
      if (err) reject(new Error(`the command's parent is gone (${err.message})`));
    });
  });
}
