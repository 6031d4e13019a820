// Compares two runs of `fusegrad bench` (their .json results), row by row: ms per epoch in each
// and the ratio, for the rows both hold (or those whose name matches the third argument).
// Use: node scripts/bench-compare.mjs BEFORE.json AFTER.json ['fusegrad WebGPU']
import { readFileSync } from 'node:fs';

const [beforeFile, afterFile, only = ''] = process.argv.slice(2);
if (!beforeFile || !afterFile) throw new Error('use: node scripts/bench-compare.mjs BEFORE.json AFTER.json [row filter]');
const [before, after] = [beforeFile, afterFile].map((f) => JSON.parse(readFileSync(f, 'utf8')));
const key = (r) => `${r.size}|${r.row}`;
const old = new Map(before.rows.map((r) => [key(r), r]));
const fmt = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(3) : v.toPrecision(3));
const lines = ['| size | row | before, ms/epoch | after, ms/epoch | after / before |', '|---|---|---|---|---|'];
for (const r of after.rows) {
  const o = old.get(key(r));
  if (!o || !r.row.includes(only)) continue;
  lines.push(`| ${r.size} | ${r.row}${r.note ? `, ${r.note}` : ''} | ${fmt(o.msPerEpoch)} | ${fmt(r.msPerEpoch)} | ${(r.msPerEpoch / o.msPerEpoch).toFixed(2)} |`);
}
console.log(`${lines.join('\n')}\n\nread bandwidth: ${before.bandwidth.gbps.toFixed(2)} GB/s before, ${after.bandwidth.gbps.toFixed(2)} GB/s after (${beforeFile}, ${afterFile})`);
