/**
 * @file The `fusegrad` command. Exit codes: 0 done, 2 bad usage or bad data, 3 the training
 * diverged (the report is printed, nothing is saved), 4 an output file could not be written (the
 * report is printed), 1 a failure inside, 128 + n ended by signal n (cli/child.ts).
 */
import { parseArgs } from 'node:util';
import { UsageError, Unwritten } from './args.js';
import { leaveParent, runChild, watchParent } from './child.js';
import { BENCH_HELP, BENCH_OPTIONS, bench } from './bench.js';
import { EXPLAIN_HELP, explain } from './explain.js';
import { Diverged, FIT_HELP, FIT_OPTIONS, fit } from './fit.js';
import { OLS_HELP, OLS_OPTIONS, olsCommand } from './ols.js';
import { PREDICT_HELP, PREDICT_OPTIONS, predict } from './predict.js';
import { childMode } from './quiet.js';
import { InputError } from '../regression/data.js';
import { ShapeError } from '../engine/shape.js';
import { DataError } from '../runtime/model.js';
import { NoAdapterError } from '../runtime/device.js';
import { PlanError } from '../compile/plan.js';
import { OptimizerError } from '../optim/optimizer.js';

const HELP = `fusegrad — train regression models on the GPU through WebGPU

Usage:
  fusegrad fit <file> --y <col> [options]     fit by gradient descent, next to the closed form
  fusegrad ols <file> --y <col> [options]     closed-form least squares with its statistics
  fusegrad predict <model.json> <file>        predictions of a saved model
  fusegrad explain [options]                  the graphs, the kernel plan and the WGSL
  fusegrad bench [options]                    GPU against CPU epochs, against the peers
  fusegrad <command> --help                   a command's options

Exit codes: 0 done, 2 bad usage or bad data, 3 the training diverged (nothing saved), 4 an output
file could not be written (the report is printed, the file keeps its old bytes), 1 a failure
inside, 130 SIGINT, 143 SIGTERM (what was interrupted is printed; no file is left half-written).

Environment:
  FUSEGRAD_DEBUG=1..4          diagnostics on stderr: 1 summary, 2 WGSL, 3 graphs, 4 per-kernel GPU timing
`;

type Values = Record<string, string | boolean | undefined>;
interface Command {
  help: string;
  options: Record<string, { type: 'string' | 'boolean' }>;
  positionals: boolean;
  /** The output, or undefined when the command wrote it itself (predict streams). */
  run: (values: Values, positionals: string[]) => Promise<string | undefined>;
}

const COMMANDS: Record<string, Command> = {
  fit: { help: FIT_HELP, options: FIT_OPTIONS, positionals: true, run: fit },
  ols: { help: OLS_HELP, options: OLS_OPTIONS, positionals: true, run: olsCommand },
  predict: { help: PREDICT_HELP, options: PREDICT_OPTIONS, positionals: true, run: predict },
  bench: { help: BENCH_HELP, options: BENCH_OPTIONS, positionals: false, run: (values) => bench(values) },
  explain: {
    help: EXPLAIN_HELP,
    options: { rows: { type: 'string' }, features: { type: 'string' }, targets: { type: 'string' }, hidden: { type: 'string' }, activation: { type: 'string' }, optimizer: { type: 'string' }, lr: { type: 'string' }, replicates: { type: 'string' }, bootstrap: { type: 'string' }, 'batch-size': { type: 'string' }, shuffle: { type: 'boolean' }, 'valid-rows': { type: 'string' }, plan: { type: 'string' }, device: { type: 'string' } },
    positionals: false,
    run: (values) => explain(values),
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`fusegrad: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  try {
    const { values, positionals, tokens } = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: command.positionals, tokens: true });
    // parseArgs keeps the last of a repeated option; `--x a --x b` meant something else.
    const given = (tokens as { kind: string; name?: string; value?: string }[]).filter((t) => t.kind === 'option' && t.value !== undefined);
    const twice = given.find((t, i) => given.findIndex((u) => u.name === t.name) < i);
    if (twice) {
      const all = given.filter((t) => t.name === twice.name).map((t) => t.value);
      throw new UsageError(`--${twice.name} is given ${all.length} times (${all.join(', ')}); give it once (where an option takes a list, it goes comma-separated: --${twice.name} ${all.join(',')})`);
    }
    if (values.help) {
      process.stdout.write(command.help);
      return 0;
    }
    const out = await command.run(values as Values, positionals);
    if (out !== undefined) process.stdout.write(`${out}\n`);
    return 0;
  } catch (err) {
    if (err instanceof Unwritten) {
      process.stdout.write(`${err.report}\n`);
      for (const failure of err.failures) process.stderr.write(`fusegrad ${name}: ${failure}\n`);
      return 4;
    }
    if (err instanceof Diverged) {
      process.stdout.write(`${err.report}\n`);
      process.stderr.write(`fusegrad ${name}: ${err.message}\n`);
      return 3;
    }
    const e = err as Error & { code?: string };
    const usage = e instanceof UsageError || e instanceof InputError || e instanceof ShapeError || e instanceof DataError || e instanceof NoAdapterError || e instanceof PlanError || e instanceof OptimizerError || e.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`fusegrad ${name}: ${e.message}\n`);
    if (!usage) process.stderr.write(`${e.stack ?? ''}\n`);
    return usage ? 2 : 1;
  }
}

// Commands that load Dawn run as a child whose stderr is filtered of Dawn's native lines (cli/quiet.ts);
// its parent owns the files and the signals (cli/child.ts).
const argv = process.argv.slice(2);
const mode = childMode(argv, process.env);
if (mode) process.exitCode = await runChild(argv, mode === 'filtered');
else {
  watchParent();
  process.exitCode = await main(argv);
  leaveParent();
}
