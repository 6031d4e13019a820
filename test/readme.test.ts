import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';

// Every benchmark table in the README is the newest committed results file, word for word
// (scripts/bench-readme.mjs puts it there).
for (const name of ['bench', 'fusion', 'replicas', 'layouts']) {
  test(`the README's ${name} table is the newest bench/results/*-${name}.md`, () => {
    const files = readdirSync('bench/results').filter((f) => f.endsWith(`-${name}.md`)).sort();
    assert.ok(files.length, `no bench/results/*-${name}.md committed`);
    const readme = readFileSync('README.md', 'utf8');
    const block = new RegExp(`<!-- bench:${name} -->\\n([\\s\\S]*?)<!-- /bench:${name} -->`).exec(readme)?.[1] ?? '';
    const table = readFileSync(`bench/results/${files.at(-1)}`, 'utf8').trim();
    assert.ok(block.includes(table), `README.md's ${name} block is not ${files.at(-1)}: run node scripts/bench-readme.mjs ${name}`);
  });
}

test.run();
