/**
 * @file Keeping Dawn's native log lines off a normal run's stderr. Dawn (inside the `webgpu`
 * package) writes "Warning: ... artificially reduced ...", "Couldn't load Vulkan" and Vulkan
 * loader notes straight to file descriptor 2, from C++, where no JavaScript can intercept them.
 * So the command runs itself as a child whose stderr is a pipe (cli/child.ts), and passes on
 * everything but those lines. FUSEGRAD_DEBUG (any level) shows them.
 */

/** Set in the child: it is the run under a parent (cli/child.ts), and its stderr goes to a terminal when STDERR_TTY is set (the terminal's width). */
export const CHILD = 'FUSEGRAD_CLI_CHILD';
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
 * How this run goes: as the parent of a child whose stderr is filtered (a command that loads Dawn:
 * fit, explain unless --device cpu, bench), as the parent of an unfiltered child (ols, predict,
 * explain --device cpu, and every command under FUSEGRAD_DEBUG, which shows Dawn's lines: the
 * parent still owns the files and the signals, cli/child.ts), or in this one process (the child
 * itself, help, and a command that does not exist, which main() names).
 */
export function childMode(argv: string[], env: NodeJS.ProcessEnv): 'filtered' | 'plain' | null {
  if (env[CHILD] === '1') return null;
  const [command, ...rest] = argv;
  if (!command || !['fit', 'ols', 'predict', 'explain', 'bench'].includes(command)) return null;
  if (rest.some((a) => a === '--help' || a === '-h')) return null;
  if (command === 'ols' || command === 'predict') return 'plain';
  const debug = env.FUSEGRAD_DEBUG !== undefined && env.FUSEGRAD_DEBUG !== '' && env.FUSEGRAD_DEBUG !== '0';
  const device = rest.findIndex((a) => a === '--device');
  const cpu = (device >= 0 && rest[device + 1] === 'cpu') || rest.includes('--device=cpu');
  return debug || (cpu && command !== 'bench') ? 'plain' : 'filtered';
}
