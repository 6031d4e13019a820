// Rewrites the benchmark table in README.md between <!-- bench:NAME --> and <!-- /bench:NAME -->
// from the newest bench/results/*-NAME.json, so the README shows exactly what a results file holds.
// Use: node scripts/bench-readme.mjs fusion
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const name = process.argv[2] ?? 'fusion';
const files = readdirSync('bench/results').filter((f) => f.endsWith(`-${name}.json`)).sort();
if (!files.length) throw new Error(`no bench/results/*-${name}.json`);
const file = `bench/results/${files.at(-1)}`;
const r = JSON.parse(readFileSync(file, 'utf8'));
const fmt = (v, digits = 3) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toPrecision(digits) : v.toPrecision(2));
const lines = [
  `${r.adapter}; read bandwidth ${r.bandwidth.gbps.toFixed(2)} GB/s (${r.bandwidth.layout}); SGD, 1 target; measured ${r.date.slice(0, 10)}; \`${file}\``,
  '',
  '| n | d | plan | ms/epoch (median) | min-max | dispatches/epoch | GB/s | x floor |',
  '|---|---|---|---|---|---|---|---|',
  ...r.rows.map((x) => `| ${x.n} | ${x.d} | ${x.plan} | ${fmt(x.msPerEpoch, 4)} | ${fmt(x.min)}-${fmt(x.max)} | ${fmt(x.dispatchesPerEpoch)} | ${fmt(x.gbps)} | ${fmt(x.floorRatio)} |`),
];
const readme = readFileSync('README.md', 'utf8');
const re = new RegExp(`(<!-- bench:${name} -->\\n)[\\s\\S]*?(<!-- /bench:${name} -->)`);
if (!re.test(readme)) throw new Error(`README.md has no <!-- bench:${name} --> block`);
writeFileSync('README.md', readme.replace(re, `$1${lines.join('\n')}\n$2`));
console.log(`README.md: table from ${file}`);
