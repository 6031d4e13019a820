import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NIST_SETS, readNist } from './nist.js';

// NIST's Statistical Reference Datasets for linear least squares, as NIST publishes them.

const DIR = 'test/data/nist';

test('the NIST files are those test/data/nist/README.md lists, byte for byte and whole', () => {
  const listed = [...readFileSync(`${DIR}/README.md`, 'utf8').matchAll(/^\| (\w+)\.dat \| ([0-9a-f]{32}) \| (\d+) \|$/gm)];
  assert.equal(listed.map((m) => m[1]).sort(), [...NIST_SETS].sort());
  for (const [, name, md5, rows] of listed) {
    const file = `${DIR}/${name}.dat`;
    assert.is(createHash('md5').update(readFileSync(file)).digest('hex'), md5, `${file} is not the file NIST publishes`);
    const set = readNist(file);
    assert.is(set.name, name);
    assert.is(set.y.length, Number(rows), `${file}: data rows`);
    assert.is(set.y.length, set.header.observations, `${file}: the header's observation count`);
    assert.equal(set.dataLines, set.header.dataLines, `${file}: the header's data lines`);
    assert.is(set.certified.coef.length, set.certified.se.length);
  }
});

test.run();
