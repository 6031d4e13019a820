/** @file The library refuses what it does not use: misplaced and misspelt options, runs too long for the CPU to hold, and every typed-array shape `write` reads. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CPU_RECORD_BYTES, CpuBackend, DataError, Graph, PlanError, compile, sgd, type CompileOptions, type TrainOptions } from '../index.js';

async function model(options: Partial<CompileOptions> = {}) {
  const g = new Graph();
  const X = g.input('X', [4, 2]);
  const Y = g.input('Y', [4, 1]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.param('W', [1, 2]), { transB: true }), g.param('b', [1])), Y));
  return { g, loss, model: await compile(g, { loss, optimizer: sgd({ lr: 0.01 }), backend: new CpuBackend(), ...options }) };
}

const X = [[1, 0], [2, 1], [3, 0], [4, 1]];
const Y = [[3], [6], [7], [10]];

async function caught(p: Promise<unknown>): Promise<Error | undefined> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

test('train(): compile\'s options are a DataError that says they belong to compile, each of them', async () => {
  const { model: m } = await model();
  m.write({ X, Y });
  for (const [key, value] of [['batchSize', 0], ['shuffle', true], ['seed', -1], ['dropLast', true], ['validationRows', 2]] as const) {
    const err = await caught(m.train({ epochs: 2, [key]: value } as TrainOptions));
    assert.instance(err, DataError, key);
    assert.match(err!.message, new RegExp(`train: "${key}" is an option of compile\\(\\), not of train\\(\\); give it to compile\\(graph, \\{ ${key} \\}\\)`));
  }
  // Nothing ran: the refusals came before any epoch.
  assert.is((await m.train({ epochs: 3 })).epochs, 3);
  m.dispose();
});

test('train() and compile(): a misspelt option names the nearest known one, and where it belongs', async () => {
  const { g, loss, model: m } = await model();
  m.write({ X, Y });
  const cases: [object, RegExp][] = [
    [{ epoch: 5 }, /train: unknown option "epoch" \(did you mean "epochs"\?\); the options are epochs, paramsEvery/],
    [{ epochs: 5, params_every: 1 }, /unknown option "params_every" \(did you mean "paramsEvery"\?\)/],
    [{ epochs: 5, shufle: true }, /unknown option "shufle" \(did you mean "shuffle"\? that is an option of compile\(\)\)/],
    [{ epochs: 5, colour: 'red' }, /train: unknown option "colour"; the options are epochs, paramsEvery, onEpoch, signal, earlyStopping, chunkEpochs$/],
  ];
  for (const [options, re] of cases) {
    const err = await caught(m.train(options as TrainOptions));
    assert.instance(err, DataError, JSON.stringify(options));
    assert.match(err!.message, re);
  }
  const notAnObject = await caught(m.train(undefined as unknown as TrainOptions));
  assert.instance(notAnObject, DataError);
  assert.match(notAnObject!.message, /train: expected options \(\{ epochs: \.\.\. \}\), got undefined/);
  const misplaced = await caught(compile(g, { loss, optimizer: sgd(), backend: new CpuBackend(), epochs: 10 } as CompileOptions));
  assert.instance(misplaced, DataError);
  assert.match(misplaced!.message, /compile: "epochs" is an option of train\(\), not of compile\(\); give it to model\.train\(\{ epochs \}\)/);
  const typo = await caught(compile(g, { loss, optimizer: sgd(), backend: new CpuBackend(), paramsEvry: 2 } as CompileOptions));
  assert.match(typo!.message, /compile: unknown option "paramsEvry" \(did you mean "paramsEvery"\? that is an option of train\(\)\)/);
  m.dispose();
});

test('the CPU backend refuses a run it cannot hold before allocating, with the numbers, as WebGPU does', async () => {
  const { model: m } = await model();
  m.write({ X, Y });
  const before = process.memoryUsage().rss;
  for (const epochs of [1e9, 2 ** 32]) {
    const err = await caught(m.train({ epochs }));
    assert.instance(err, PlanError, `${epochs}: ${err}`);
    assert.match(err!.message, new RegExp(`train: ${epochs} epochs of losses need ${epochs * 8} bytes in memory, over the CPU backend's limit of ${CPU_RECORD_BYTES} for one run; train in shorter runs`));
  }
  assert.ok(process.memoryUsage().rss - before < 256 << 20, 'nothing was allocated for the refused runs');
  // Snapshots and validation losses count too.
  const err = await caught(m.train({ epochs: 5e7, paramsEvery: 1 }));
  assert.match(err!.message, /train: 50000000 epochs of losses and 50000000 parameter snapshots need 1600000000 bytes in memory, over the CPU backend's limit of 1073741824/);
  assert.is((await m.train({ epochs: 2 })).epochs, 2, 'the model still trains');
  m.dispose();
  const { model: v } = await model({ validationRows: 2 });
  const e2 = await caught((v.write({ X, Y }), v.write({ X: X.slice(0, 2), Y: Y.slice(0, 2) }, 'validation'), v.train({ epochs: 7e7 })));
  assert.match(e2!.message, /train: 70000000 epochs of losses and validation losses need 1120000000 bytes in memory, over the CPU backend's limit of 1073741824/);
  v.dispose();
});

test('write(): rows of typed arrays, flat typed arrays of any number type, and a named refusal of anything else', async () => {
  const { model: m } = await model();
  const rows = X.map((r) => Float64Array.from(r));
  const want = await (async () => {
    m.write({ X, Y });
    return Array.from((await m.train({ epochs: 5 })).loss);
  })();
  const trained = async (values: Record<string, unknown>) => {
    m.write({ W: [[0, 0]], b: [0] });
    m.write(values as Parameters<typeof m.write>[0]);
    return Array.from((await m.train({ epochs: 5 })).loss);
  };
  const f32Y = Y.map((r) => Float32Array.from(r));
  // Each shape, the very same losses as nested arrays gave.
  assert.equal(await trained({ X: rows, Y }), want, 'rows of Float64Array');
  assert.equal(await trained({ X: X.map((r) => Int32Array.from(r)), Y: f32Y }), want, 'rows of Int32Array and of Float32Array');
  assert.equal(await trained({ X: Int32Array.from(X.flat()), Y: Uint8Array.from(Y.flat()) }), want, 'flat Int32Array and Uint8Array of the input\'s size');
  assert.equal(await trained({ X: Float64Array.from(X.flat()), Y: Y.flat() }), want, 'flat Float64Array and flat array');
  const refusals: [Record<string, unknown>, RegExp][] = [
    [{ X: BigInt64Array.of(1n, 0n, 2n, 1n, 3n, 0n, 4n, 1n) }, /write X: expected a number, an array \(flat, or of rows, each an array or a typed array\) or a typed array of numbers \(Float64Array, Float32Array, Int32Array, \.\.\.\), got a BigInt64Array of 8 \(its bigints are not numbers/],
    [{ X: new DataView(new ArrayBuffer(64)) }, /write X: expected a number, an array .*got a DataView$/],
    [{ X: Int32Array.of(1, 2, 3) }, /write X: got 3 values, shape \[4,2\] needs 8/],
    [{ X: [Float64Array.of(1, 0), Float64Array.of(2), Float64Array.of(3, 0), Float64Array.of(4, 1)] }, /write X: row 1 has 1 values, shape \[4,2\] needs 2/],
    [{ X: [[1, 0], { 0: 2, 1: 1 }, [3, 0], [4, 1]] }, /write X: row 1 is \{"0":2,"1":1\}, not an array or a typed array of numbers/],
    [{ X: Float64Array.of(1, 0, 2, NaN, 3, 0, 4, 1) }, /write X: the value at row 1, column 1 is NaN/],
  ];
  for (const [values, re] of refusals) {
    assert.throws(() => m.write(values as Parameters<typeof m.write>[0]), (e: Error) => e instanceof DataError && re.test(e.message), `${re}`);
  }
  m.dispose();
});

test('write(): one parameter for every replicate given as rows of typed arrays', async () => {
  const { model: m } = await model({ replicates: 2, sweep: { lr: [0.01, 0.02] } });
  m.write({ X, Y, W: [Float64Array.of(1, 2), Float64Array.of(3, 4)] });
  assert.equal(Array.from(await m.read('W')), [1, 2, 3, 4]);
  m.dispose();
});

test.run();
