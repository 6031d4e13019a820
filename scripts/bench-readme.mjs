// Copies the newest bench/results/*-NAME.md (the table a benchmark run wrote) into README.md,
// between <!-- bench:NAME --> and <!-- /bench:NAME -->, so the README shows exactly what a
// committed results file holds. Use: node scripts/bench-readme.mjs bench|fusion
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const name = process.argv[2] ?? 'bench';
const files = readdirSync('bench/results').filter((f) => f.endsWith(`-${name}.md`)).sort();
if (!files.length) throw new Error(`no bench/results/*-${name}.md`);
const file = `bench/results/${files.at(-1)}`;
const body = `${readFileSync(file, 'utf8').trim()}\n\n(from \`${file}\` and the .json beside it)`;
const readme = readFileSync('README.md', 'utf8');
const re = new RegExp(`(<!-- bench:${name} -->\\n)[\\s\\S]*?(<!-- /bench:${name} -->)`);
if (!re.test(readme)) throw new Error(`README.md has no <!-- bench:${name} --> block`);
writeFileSync('README.md', readme.replace(re, (_, open, close) => `${open}${body}\n${close}`));
console.log(`README.md: ${name} table from ${file}`);
