import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fusegrad, scratch } from './cli-helpers.js';

// Data read as what it is, or refused naming what it is: numbers in CSV and JSON files, and the
// model file predict reads.

function fitJson(...args: string[]) {
  const r = fusegrad('fit', ...args, '--json');
  assert.is(r.code, 0, r.err);
  return JSON.parse(r.out);
}

test('numbers in a data file are decimal numbers: hex and numbers past float64 are named, not read as something else', () => {
  const cases: [string[], RegExp][] = [
    [[scratch('hex.csv', 'y,x\n1,2\n2,0x10\n3,5\n4,6\n'), '--y', 'y', '--x', 'x'], /hex\.csv: column "x": line 3 has "0x10", which is not a decimal number \(hexadecimal, binary and octal are not read as numbers\)/],
    [[scratch('big.csv', 'y,x\n1,2\n2,1e400\n3,5\n4,6\n'), '--y', 'y', '--x', 'x'], /big\.csv: column "x": line 3 has "1e400", which is beyond the range of a float64 \(±1\.80e\+308\)/],
    [[scratch('big.json', '[{"y":1,"x":2},{"y":2,"x":3},{"y":3,"x":1e400},{"y":4,"x":5}]'), '--y', 'y', '--x', 'x'], /big\.json: column "x": record 3 has a number JSON read as Infinity, which is beyond the range of a float64/],
  ];
  for (const [args, re] of cases) {
    const r = fusegrad('fit', ...args);
    assert.is(r.code, 2, `${args.join(' ')}: exit code (stderr: ${r.err})`);
    assert.match(r.err, re);
    assert.not.match(r.err, /\n\s+at /, 'no stack trace');
    assert.is(r.out, '', 'nothing on stdout');
  }
  // ols and predict read numbers the same way.
  const hex = scratch('hex.csv', 'y,x\n1,2\n2,0x10\n3,5\n4,6\n');
  assert.match(fusegrad('ols', hex, '--y', 'y', '--x', 'x').err, /column "x": line 3 has "0x10", which is not a decimal number/);
  // Decimal forms people write are read: a sign, a point at either end, an exponent.
  const ok = fitJson(scratch('decimal.csv', 'y,x\n1,+2\n2,.5\n3,5.\n4,6e0\n5,-1E-1\n'), '--y', 'y', '--x', 'x', '--epochs', '2', '--device', 'cpu');
  assert.is(ok.n, 5);
});

test('predict checks the model file: format, fields, shapes and finite numbers, each named', () => {
  const good = { format: 'fusegrad-linear-1', inputs: ['displacement'], features: ['displacement'], targets: ['mpg'], weight: [[-0.06]], bias: [35.2], trained: { params: { weight: [[-0.8]], bias: [0] } } };
  const rows = scratch('predict-rows.csv', 'displacement\n100\n');
  const cases: [unknown, RegExp][] = [
    [[1, 2], /expected a JSON object saved by fusegrad fit --save, got an array/],
    [{ ...good, format: 'other' }, /not a model saved by fusegrad fit --save \(format "other", expected "fusegrad-linear-1" \(fit --save\) or "fusegrad-network-1" \(fit --hidden --save\)\)/],
    [{ ...good, bias: undefined }, /"bias" must have one value per target \(1: mpg\), got undefined/],
    [{ ...good, weight: [[1, 2]] }, /"weight" row 0 \(mpg\) must have one coefficient per feature \(1: displacement\), got 2/],
    [{ ...good, weight: [['-0.06']] }, /"weight" row 0 \(mpg\), feature 0 \(displacement\) is "-0\.06", not a finite number/],
    [{ ...good, weight: [[null]] }, /"weight" row 0 \(mpg\), feature 0 \(displacement\) is null, not a finite number/],
    [{ ...good, bias: [35, 1] }, /"bias" must have one value per target \(1: mpg\), got 2 values/],
    [{ ...good, targets: [] }, /"targets" must be a non-empty list of column names, got \[\]/],
    [{ ...good, features: ['a', 'b'] }, /"inputs" has 1 columns and "features" 2/],
    [{ ...good, poly: { column: 'displacement', degree: 0 } }, /"poly" must be \{"column": name, "degree": integer >= 1\}/],
  ];
  for (const [model, re] of cases) {
    const p = fusegrad('predict', scratch('bad-model.json', JSON.stringify(model)), rows);
    assert.is(p.code, 2, `${JSON.stringify(model)}: ${p.err}`);
    assert.match(p.err, re);
    assert.not.match(p.err, /\n\s+at |TypeError/);
    assert.is(p.out, '', 'no predictions');
  }
  const ok = fusegrad('predict', scratch('good-model.json', JSON.stringify(good)), rows);
  assert.is(ok.code, 0, ok.err);
  const big = fusegrad('predict', scratch('good-model.json', JSON.stringify({ ...good, weight: [[1e308]] })), scratch('big-rows.csv', 'displacement\n1e10\n'));
  assert.is(big.code, 2);
  assert.match(big.err, /the prediction of mpg at line 2 overflows float64 \(-?Infinity\)/);
});

test.run();
