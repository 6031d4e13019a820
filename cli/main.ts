/**
 * @file The `fusegrad` command. Exit codes: 0 done, 2 bad usage or bad data, 1 a failure inside.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './args.js';
import { EXPLAIN_HELP, explain } from './explain.js';
import { ShapeError } from '../engine/shape.js';
import { DataError } from '../runtime/model.js';
import { NoAdapterError } from '../runtime/device.js';

const HELP = `fusegrad — train regression models on the GPU through WebGPU

Usage:
  fusegrad explain [options]   print the graphs, the kernel plan and the WGSL (fusegrad explain --help)
  fusegrad --help

Environment:
  FUSEGRAD_DEBUG=1..4          diagnostics on stderr: 1 summary, 2 WGSL, 3 graphs, 4 per-kernel GPU timing
`;

const COMMANDS: Record<string, { help: string; options: Record<string, { type: 'string' | 'boolean' }>; run: (v: Record<string, string | boolean | undefined>) => Promise<string> }> = {
  explain: {
    help: EXPLAIN_HELP,
    options: { rows: { type: 'string' }, features: { type: 'string' }, targets: { type: 'string' }, optimizer: { type: 'string' }, lr: { type: 'string' }, plan: { type: 'string' }, device: { type: 'string' } },
    run: explain,
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
    const { values } = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    if (values.help) {
      process.stdout.write(command.help);
      return 0;
    }
    process.stdout.write(`${await command.run(values)}\n`);
    return 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    const usage = e instanceof UsageError || e instanceof ShapeError || e instanceof DataError || e instanceof NoAdapterError || e.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`fusegrad ${name}: ${e.message}\n`);
    if (!usage) process.stderr.write(`${e.stack ?? ''}\n`);
    return usage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
