import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import Papa from 'papaparse';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CsvReader, type Cell, parseTable } from '../regression/data.js';
import { fusegrad, scratch, scratchPath } from './cli-helpers.js';

// predict streams (memory independent of the file's length, quiet in a closed pipe, never
// overwriting an input column), model files read as data files are, and data files that are not
// UTF-8 CSV or JSON named for what they are.

const CLI = resolve('dist/cli.js');
const MODEL = scratch('stream-model.json', JSON.stringify({ format: 'fusegrad-linear-1', inputs: ['a', 'b'], features: ['a', 'b'], targets: ['y'], weight: [[2, -1]], bias: [1] }));

/** A CSV file of `n` rows (y, a, b), written a megabyte at a time; returns its path. */
function rows(name: string, n: number, row = (i: number) => `${i % 7},${(i % 1000) / 10},${i % 13}`): string {
  const file = scratchPath(name);
  const fd = openSync(file, 'w');
  let text = 'y,a,b\n';
  for (let i = 0; i < n; i++) {
    text += `${row(i)}\n`;
    if (text.length > 1 << 20) {
      writeSync(fd, text);
      text = '';
    }
  }
  writeSync(fd, text);
  closeSync(fd);
  return file;
}

/** Runs predict with stdout to a file; returns the exit code, stderr, the output's size and last line, and the peak RSS in MiB. */
function predictToFile(data: string) {
  const out = scratchPath('predictions.csv');
  const rssFile = scratchPath('rss.txt');
  // The child's own peak resident set, written as it exits: VmHWM, the high-water mark of the
  // address space exec gave it. Not getrusage's maxRSS, which Linux carries across fork and exec,
  // so that it reports the test runner's own size (638 MiB in the full suite) when that is larger.
  // The command and the child it runs its work in (cli/child.ts) each add a line: the largest counts.
  writeFileSync(rssFile, '');
  const hook = scratch('rss.cjs', `process.on('exit', () => require('fs').appendFileSync(${JSON.stringify(rssFile)}, /VmHWM:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1] + '\\n'));`);
  const fd = openSync(out, 'w');
  const r = spawnSync(process.execPath, ['--require', hook, CLI, 'predict', MODEL, data], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 120_000, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
  closeSync(fd);
  const size = statSync(out).size;
  const tail = Buffer.alloc(Math.min(size, 200));
  const tfd = openSync(out, 'r');
  readSync(tfd, tail, 0, tail.length, size - tail.length);
  closeSync(tfd);
  const peaks = readFileSync(rssFile, 'utf8').split('\n').filter(Boolean).map(Number);
  assert.is(peaks.length, 2, 'the command and its child each report their peak');
  const rss = r.status === 0 ? Math.max(...peaks) / 1024 : NaN;
  return { code: r.status, err: r.stderr, size, last: tail.toString().trimEnd().split('\n').pop(), rss };
}

test('predict streams 3e6 rows with the memory it needs for 3e5', () => {
  // 3e6 rows: about 12 s of predict on a quiet machine (it died of a V8 heap OOM when it read the file whole).
  const small = predictToFile(rows('rows-3e5.csv', 300_000));
  assert.is(small.code, 0, small.err);
  const big = predictToFile(rows('rows-3e6.csv', 3_000_000));
  assert.is(big.code, 0, big.err);
  assert.is(big.err, '');
  const i = 2_999_999;
  assert.is(big.last, `${(i % 1000) / 10},${i % 13},${1 + 2 * ((i % 1000) / 10) - (i % 13)}`, 'the last row is predicted');
  // Ten times the rows, within 1.5 times the memory (V8 collects lazily, so not exactly the same).
  assert.ok(big.rss < 1.5 * small.rss, `peak RSS ${big.rss.toFixed(0)} MiB at 3e6 rows, ${small.rss.toFixed(0)} MiB at 3e5`);
  assert.ok(big.rss < 512, `peak RSS ${big.rss.toFixed(0)} MiB`);
  for (const f of ['rows-3e5.csv', 'rows-3e6.csv', 'predictions.csv']) truncateSync(scratchPath(f), 0);
});

/** Runs predict into a pipe whose reader goes away after the first chunk (as `| head -1` does). */
function closedPipe(...args: string[]): Promise<{ code: number | null; err: string; first: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, 'predict', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });
    let err = '';
    let first = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.stdout.once('data', (chunk: Buffer) => {
      first = chunk.toString().split('\n')[0]!;
      child.stdout.destroy();
    });
    child.on('close', (code) => done({ code, err, first }));
  });
}

test('predict | head -1: the closed pipe ends it quietly, exit 0, CSV and JSON', async () => {
  const data = rows('rows-pipe.csv', 300_000);
  const csv = await closedPipe(MODEL, data);
  assert.is(csv.first, 'a,b,predicted_y');
  assert.is(csv.err, '', 'no EPIPE stack trace');
  assert.is(csv.code, 0);
  const json = await closedPipe(MODEL, data, '--json');
  assert.is(json.first.slice(0, 2), '[{');
  assert.is(json.err, '');
  assert.is(json.code, 0);
});

test('predict never overwrites an input column: a prediction whose name is taken gets _1', () => {
  const model = scratch('taken-model.json', JSON.stringify({ format: 'fusegrad-linear-1', inputs: ['predicted_y', 'x'], features: ['predicted_y', 'x'], targets: ['y'], weight: [[1, 10]], bias: [0] }));
  const data = scratch('taken.csv', 'predicted_y,x,other\n5,1,a\n7,2,b\n');
  const r = fusegrad('predict', model, data);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, 'predicted_y,x,predicted_y_1\n5,1,15\n7,2,27\n');
  assert.match(r.err, /the model's input column "predicted_y" keeps its name; the prediction of y is "predicted_y_1"/);
  const j = fusegrad('predict', model, data, '--json');
  assert.equal(JSON.parse(j.out), [
    { predicted_y: 5, x: 1, predicted_y_1: 15 },
    { predicted_y: 7, x: 2, predicted_y_1: 27 },
  ]);
});

test('an error mid-stream names file, column and line, and says that earlier rows were written', () => {
  const n = 200_000;
  const cases: [(i: number) => string, RegExp][] = [
    [(i) => (i === n - 2 ? '1,abc,2' : `1,${i % 10},2`), /rows-bad\.csv: column "a" is not numeric: line 200000 has "abc"; the predictions of the rows before it were already written to stdout/],
    [(i) => (i === n - 2 ? '1,2' : `1,${i % 10},2`), /rows-bad\.csv: line 200000 has 2 fields, the header has 3/],
    [(i) => (i === n - 2 ? '1,1e400,2' : `1,${i % 10},2`), /column "a" is beyond the range of a float64 .*: line 200000 has "1e400"/],
  ];
  for (const [row, re] of cases) {
    const r = fusegrad('predict', MODEL, rows('rows-bad.csv', n, row));
    assert.is(r.code, 2, r.err);
    assert.match(r.err, re);
    assert.not.match(r.err, /\n\s+at /);
    assert.ok(r.out.startsWith('a,b,predicted_y\n0,2,-1\n'), 'the pieces before the error are on stdout');
  }
});

/** Rows and their lines, read in chunks of `size` characters. */
function chunked(text: string, size: number): { rows: Cell[][]; where: string[] } {
  const csv = new CsvReader('chunks.csv');
  const rows: Cell[][] = [];
  const where: string[] = [];
  for (let i = 0; i <= text.length; i += size) {
    const p = csv.push(text.slice(i, i + size), i + size > text.length);
    p.rows.forEach((r, j) => (rows.push(r), where.push(p.where(j))));
  }
  return { rows, where };
}

test('CSV read in chunks split anywhere gives the rows and lines of the whole: quotes, line breaks in fields, blank lines, CRLF', () => {
  // Each body repeated past the 64 KiB the delimiter is guessed from, so that chunks are cut.
  const texts = [
    ['y,x\n', '1,2\n\n3,4\n  \n5,6\n'],
    ['y,x\r\n', '1,"a\r\nb"\r\n\r\n3,"say ""hi"",\nthere"\r\n5,6\r\n'],
    ['h,t\n', '1,5\'11"\n2,"q"\n3,x\n4,"""quoted"""\n'],
    ['a;b\n', '1;"2;3"\n4;5\n'],
  ].map(([header, body]) => header + body!.repeat(Math.ceil(70_000 / body!.length)));
  for (const text of texts) {
    const whole = parseTable('whole.csv', text);
    // The rows are papaparse's, blank lines skipped, as the whole file read at once gave them.
    assert.equal(whole.rows, Papa.parse<string[]>(text, { skipEmptyLines: 'greedy' }).data.slice(1), text.slice(0, 40));
    for (const size of [1, 2, 3, 7, 13, 4096, 65_539]) {
      const c = chunked(text, size);
      assert.equal(c.rows, whole.rows, `${JSON.stringify(text.slice(0, 40))} in chunks of ${size}`);
      assert.equal(c.where, whole.rows.map((_, r) => whole.where(r)), `${JSON.stringify(text.slice(0, 40))} in chunks of ${size}: lines`);
    }
  }
  const lines = parseTable('l.csv', 'y,x\r\n1,"a\r\nb"\r\n\r\n3,"say ""hi"",\nthere"\r\n5,6');
  assert.equal([0, 1, 2].map((r) => lines.where(r)), ['line 2', 'line 5', 'line 7']);
});

test('a line number after a blank line is the line the row is on', () => {
  const file = scratch('blank-line.csv', 'y,x\n1,2\n\n3,abc\n4,5\n');
  for (const args of [['fit', '--device', 'cpu'], ['ols']]) {
    const r = fusegrad(args[0]!, file, '--y', 'y', '--x', 'x', ...args.slice(1));
    assert.is(r.code, 2, r.err);
    assert.match(r.err, /blank-line\.csv: column "x" is not numeric: line 4 has "abc"/);
  }
  const ragged = fusegrad('predict', MODEL, scratch('blank-ragged.csv', 'y,a,b\n\n\n1,2,3\n4,5\n'));
  assert.match(ragged.err, /blank-ragged\.csv: line 5 has 2 fields, the header has 3/);
});

test('a model file with a byte-order mark is read; a number past float64 is named with its field', () => {
  const model = { format: 'fusegrad-linear-1', inputs: ['a'], features: ['a'], targets: ['y'], weight: [[2]], bias: [1] };
  const data = scratch('bom-rows.csv', 'a\n3\n');
  const bom = fusegrad('predict', scratch('bom-model.json', `\uFEFF${JSON.stringify(model)}`), data);
  assert.is(bom.code, 0, bom.err);
  assert.is(bom.out, 'a,predicted_y\n3,7\n');
  const big = fusegrad('predict', scratch('big-model.json', JSON.stringify(model).replace('[[2]]', '[[1e400]]')), data);
  assert.is(big.code, 2);
  assert.match(big.err, /big-model\.json: "weight" row 0 \(y\), feature 0 \(a\) is 1e400, which is beyond the range of a float64 \(±1\.80e\+308\)/);
  const neg = fusegrad('predict', scratch('big-model.json', JSON.stringify(model).replace('"bias":[1]', '"bias":[-2.5E+999]')), data);
  assert.match(neg.err, /"bias" 0 \(y\) is -2\.5E\+999, which is beyond the range of a float64/);
});

test('a header column without a name is called by its position, and fit --save, predict and ols find it', () => {
  const file = scratch('unnamed.csv', ',x,y\n0,1,3\n1,3,5.1\n2,2,6.9\n3,5,9\n');
  const model = scratchPath('unnamed-model.json');
  const fit = fusegrad('fit', file, '--y', 'y', '--device', 'cpu', '--epochs', '5', '--save', model);
  assert.is(fit.code, 0, fit.err);
  assert.equal(JSON.parse(readFileSync(model, 'utf8')).inputs, ['column 1', 'x']);
  const p = fusegrad('predict', model, file);
  assert.is(p.code, 0, p.err);
  assert.is(p.out.split('\n')[0], 'column 1,x,predicted_y');
  const ols = fusegrad('ols', file, '--y', 'y', '--x', 'column 1');
  assert.is(ols.code, 0, ols.err);
  assert.match(ols.out, /y ~ column 1/);
  const taken = fusegrad('ols', scratch('unnamed-taken.csv', 'column 2,,y\n1,2,3\n'), '--y', 'y');
  assert.match(taken.err, /unnamed-taken\.csv: the header's column 2 has no name, and "column 2", the name it would get, is another column's/);
});

test('a data file that is not UTF-8 CSV or JSON is named for what it is', () => {
  const csv = 'y,x\n1,2\n2,4\n3,6\n';
  const utf16 = (bom: boolean) => Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(csv, 'utf16le')]);
  const bytes = (name: string, b: Uint8Array) => {
    const file = scratchPath(name);
    writeFileSync(file, b);
    return file;
  };
  const cases: [string, RegExp][] = [
    [bytes('utf16.csv', utf16(true)), /utf16\.csv: the file looks like UTF-16 \(it starts with a UTF-16 byte-order mark\); save it as UTF-8/],
    [bytes('utf16-nobom.csv', utf16(false)), /utf16-nobom\.csv: the file looks like UTF-16 \(every other byte is zero\); save it as UTF-8/],
    [bytes('data.csv.gz', gzipSync(csv)), /data\.csv\.gz: the file is gzip-compressed; decompress it first/],
    [bytes('gzipped.csv', gzipSync(csv)), /gzipped\.csv: the file is gzip-compressed/],
    [bytes('book.xlsx', Buffer.from('PK\x03\x04rest of a zip', 'latin1')), /book\.xlsx: the file is a zip archive \(an Excel \.xlsx workbook is one\); save or export it as CSV/],
    [scratch('bracket', '[y],x\n1,2\n2,4\n'), /bracket: not valid JSON \(if it is CSV whose header starts with '\[', name the file \.csv\): /],
  ];
  for (const [file, re] of cases) {
    for (const args of [['fit', '--device', 'cpu'], ['ols']]) {
      const r = fusegrad(args[0]!, file, '--y', 'y', ...args.slice(1));
      assert.is(r.code, 2, `${args[0]} ${file}: ${r.err}`);
      assert.match(r.err, re);
    }
    const p = fusegrad('predict', MODEL, file);
    assert.match(p.err, re);
  }
  // A header that starts with '[' in a file named .csv is CSV.
  const bracket = fusegrad('ols', scratch('bracket.csv', '[y],x\n1,2\n2,4.1\n3,5.9\n'), '--y', '[y]');
  assert.is(bracket.code, 0, bracket.err);
  assert.match(bracket.out, /\[y\] ~ x/);
});

test('CSV past one string (512 MiB) is read in pieces; JSON past it names the size and the limit', () => {
  // 520 MiB of rows with a 64 KiB text column: fit and ols read it whole (ERR_STRING_TOO_LONG
  // before), ols ignores the text column.
  const file = scratchPath('long.csv');
  const fd = openSync(file, 'w');
  writeSync(fd, 'y,x,note\n');
  const note = 'n'.repeat(64 << 10);
  const n = 8320;
  for (let i = 0; i < n; i++) writeSync(fd, `${2 * (i % 100) + (i % 3)},${i % 100},${note}\n`);
  closeSync(fd);
  assert.ok(statSync(file).size > 2 ** 29);
  const r = fusegrad('ols', file, '--y', 'y', '--x', 'x');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`rows ${n},`));
  truncateSync(file, 0);
  const json = scratchPath('huge.json');
  writeFileSync(json, '[{"y": 1, "x": 2}');
  truncateSync(json, 600 << 20);
  const j = fusegrad('ols', json, '--y', 'y');
  assert.is(j.code, 2);
  assert.match(j.err, /huge\.json: 600 MiB of JSON is more than one string holds \(512 MiB\), and JSON is parsed whole; save it as CSV, which is read in pieces/);
  truncateSync(json, 0);
});

test.run();
