/**
 * @file Keeping Dawn's native log lines off a normal run's stderr. Dawn (inside the `webgpu`
 * package) writes "Warning: ... artificially reduced ...", "Couldn't load Vulkan" and Vulkan
 * loader notes straight to file descriptor 2, from C++, where no JavaScript can intercept them.
 * So the command runs itself as a child whose stderr is a pipe, and passes on everything but those
 * lines. FUSEGRAD_DEBUG (any level) shows them: it runs in one process, as before.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/** Set in the child: it is the filtered run, and its stderr goes to a terminal when this is set (the terminal's width). */
const CHILD = 'FUSEGRAD_CLI_CHILD';
export const STDERR_TTY = 'FUSEGRAD_STDERR_TTY';

/** A line Dawn starts: its severity, a colon. The command's own lines start with "fusegrad". */
const DAWN_LINE = /^(Warning|Error|Info|Debug): /;
/** The lines that follow one: Dawn's "    at Function (file.cpp:123)" and its " - While ..." context, and blank lines. */
const DAWN_MORE = /^(\s+at .*\(.*:\d+\)|\s+- .*|\s*)$/;
const PREFIXES = ['Warning: ', 'Error: ', 'Info: ', 'Debug: '];

/**
 * A filter over a stream of text: `push` chunks as they come, `end` at the close. Dawn's lines are
 * dropped; everything else is written as soon as it is known not to start one, so a progress bar
 * (which redraws without newlines) is not held back.
 */
export function dawnFilter(write: (text: string) => void): { push(chunk: string): void; end(): void } {
  let held = '';
  let passing = false;
  let inDawn = false;
  const line = (text: string) => {
    if (DAWN_LINE.test(text) || (inDawn && DAWN_MORE.test(text))) {
      inDawn = true;
      return;
    }
    inDawn = false;
    write(`${text}\n`);
  };
  return {
    push(chunk: string) {
      let rest = chunk;
      while (rest.length) {
        const nl = rest.indexOf('\n');
        if (passing) {
          // The start of this line was already written: the rest of it goes too.
          write(nl < 0 ? rest : rest.slice(0, nl + 1));
          if (nl < 0) return;
          passing = false;
          rest = rest.slice(nl + 1);
          continue;
        }
        if (nl >= 0) {
          line(held + rest.slice(0, nl));
          held = '';
          rest = rest.slice(nl + 1);
          continue;
        }
        held += rest;
        rest = '';
        // Hold a partial line only while it could still be Dawn's.
        const couldBeDawn = PREFIXES.some((p) => p.startsWith(held) || held.startsWith(p)) || (inDawn && /^\s*(a|at|at\s.*|-.*)?$/.test(held));
        if (!couldBeDawn) {
          inDawn = false;
          write(held);
          held = '';
          passing = true;
        }
      }
    },
    end() {
      if (held && !DAWN_LINE.test(held) && !(inDawn && DAWN_MORE.test(held))) write(held);
      held = '';
    },
  };
}

/**
 * Whether this run should be the filtering parent: a command that loads Dawn (fit and explain
 * unless --device cpu, and bench), no FUSEGRAD_DEBUG, and not already the child.
 */
export function shouldFilter(argv: string[], env: NodeJS.ProcessEnv): boolean {
  if (env[CHILD] === '1' || (env.FUSEGRAD_DEBUG !== undefined && env.FUSEGRAD_DEBUG !== '' && env.FUSEGRAD_DEBUG !== '0')) return false;
  const [command, ...rest] = argv;
  if (command !== 'fit' && command !== 'explain' && command !== 'bench') return false;
  if (rest.some((a) => a === '--help' || a === '-h')) return false;
  const device = rest.findIndex((a) => a === '--device');
  const cpu = (device >= 0 && rest[device + 1] === 'cpu') || rest.includes('--device=cpu');
  return !(cpu && command !== 'bench');
}

/** Runs the command again as a child with stderr filtered; resolves to its exit code. */
export function runFiltered(argv: string[]): Promise<number> {
  const columns = process.stderr.isTTY ? String(process.stderr.columns || 80) : '';
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [CHILD]: '1', [STDERR_TTY]: columns },
  });
  const filter = dawnFilter((text) => process.stderr.write(text));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => filter.push(chunk));
  // Ctrl-C reaches the whole process group: the child handles it; the parent waits for its exit.
  // A signal sent to the parent alone is passed on.
  const pass = (signal: NodeJS.Signals) => () => child.kill(signal);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, s === 'SIGINT' ? () => {} : pass(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`fusegrad: could not run the command (${err.message})\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      filter.end();
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
