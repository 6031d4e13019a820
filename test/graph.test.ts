import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../engine/graph.js';
import { backward } from '../autograd/backward.js';

test('shapes are inferred as nodes are added, numpy-style broadcasting included', () => {
  const g = new Graph();
  const X = g.input('X', [5, 3]);
  const W = g.param('W', [2, 3]);
  const b = g.param('b', [2]);
  const xw = g.matmul(X, g.transpose(W));
  assert.equal([...xw.shape], [5, 2]);
  assert.equal([...g.add(xw, b).shape], [5, 2]);
  assert.equal([...g.add(g.input('c', [5, 1]), g.input('r', [1, 4])).shape], [5, 4]);
  assert.equal([...g.mean(xw).shape], []);
  assert.equal([...g.mean(xw, 0).shape], [2]);
  assert.equal([...g.sum(xw, 1).shape], [5]);
  assert.equal([...g.matmul(X, W, { transB: true }).shape], [5, 2]);
  assert.equal([...g.matmul(X, X, { transA: true }).shape], [3, 3]);
});

test('toString prints one node per line and marks backward nodes', () => {
  const g = new Graph();
  const X = g.input('X', [5, 3]);
  const Y = g.input('Y', [5, 2]);
  const W = g.param('W', [2, 3]);
  const b = g.param('b', [2]);
  const loss = g.mean(g.squaredError(g.add(g.matmul(X, g.transpose(W)), b), Y));
  const forward = g.toString();
  assert.is(
    forward,
    [
      '%0:f32[5,3] = input "X"',
      '%1:f32[5,2] = input "Y"',
      '%2:f32[2,3] = param "W"',
      '%3:f32[2] = param "b"',
      '%4:f32[3,2] = transpose %2',
      '%5:f32[5,2] = matmul %0, %4',
      '%6:f32[5,2] = add %5, %3',
      '%7:f32[5,2] = squaredError %6, %1',
      '%8:f32[] = mean %7 (all)',
    ].join('\n'),
  );
  backward(g, loss, [g.byName('W')!, g.byName('b')!]);
  const back = g.toString((n) => n.role === 'backward').split('\n');
  assert.ok(back.length > 5);
  assert.ok(back.every((l) => l.includes('; backward')));
  assert.ok(back.some((l) => /= sum %\d+ \(axis=0\)\s+; backward: db$/.test(l)), back.join('\n'));
});

test('a tensor from another graph is refused', () => {
  const g = new Graph();
  const h = new Graph();
  assert.throws(() => g.add(g.input('a', [2]), h.input('a', [2])), /an operand is not a tensor of this graph/);
});

test.run();
