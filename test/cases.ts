/**
 * @file One small graph per op and broadcast pattern, shared by the autograd and backend tests.
 * Each case builds `out = op(params...)`; the tests wrap it as loss = sum(out * R) with a random R,
 * so every element of the output reaches the loss with its own weight.
 */
import type { Graph, Tensor } from '../engine/graph.js';
import type { OpKind } from '../engine/ops.js';
import type { Shape } from '../engine/shape.js';

export interface OpCase {
  name: string;
  /** Ops this case exercises (coverage is checked against the op table). */
  ops: OpKind[];
  params: Shape[];
  build(g: Graph, p: Tensor[]): Tensor;
}

export const CASES: OpCase[] = [
  { name: 'matmul', ops: ['matmul'], params: [[5, 3], [3, 2]], build: (g, [a, b]) => g.matmul(a!, b!) },
  { name: 'matmul transA', ops: ['matmul'], params: [[3, 5], [3, 2]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true }) },
  { name: 'matmul transB', ops: ['matmul'], params: [[5, 3], [2, 3]], build: (g, [a, b]) => g.matmul(a!, b!, { transB: true }) },
  { name: 'matmul transA transB', ops: ['matmul'], params: [[3, 5], [2, 3]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true, transB: true }) },
  { name: 'matmul long inner (split-K)', ops: ['matmul'], params: [[3, 700], [700, 2]], build: (g, [a, b]) => g.matmul(a!, b!) },
  // Every side a multiple of 4 (and the rows not of 8): 4 x 8 tiles where the output's columns are
  // a multiple of 8, else 4 x 4, read as vec4s (matmul_tile.wgsl), each operand along either axis;
  // the gradients are tiled products too. A long inner side with few output blocks splits its sum
  // (16 slices of 64).
  { name: 'matmul in 4x8 tiles', ops: ['matmul'], params: [[12, 20], [20, 16]], build: (g, [a, b]) => g.matmul(a!, b!) },
  { name: 'matmul in 4x8 tiles transA', ops: ['matmul'], params: [[20, 12], [20, 16]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true }) },
  { name: 'matmul in 4x4 tiles transB', ops: ['matmul'], params: [[12, 20], [12, 20]], build: (g, [a, b]) => g.matmul(a!, b!, { transB: true }) },
  { name: 'matmul in 4x4 tiles transA transB', ops: ['matmul'], params: [[20, 12], [12, 20]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true, transB: true }) },
  { name: 'matmul in 4x8 tiles, long inner (split-K)', ops: ['matmul'], params: [[4, 1024], [1024, 8]], build: (g, [a, b]) => g.matmul(a!, b!) },
  // Rows a multiple of 8, on an adapter with subgroups of 8 (lavapipe): a subgroup computes an
  // 8-row band, A's block read once and broadcast (matmul_team.wgsl); 40 columns leave lanes idle.
  { name: 'matmul in subgroup bands', ops: ['matmul'], params: [[16, 12], [12, 40]], build: (g, [a, b]) => g.matmul(a!, b!) },
  { name: 'matmul in subgroup bands transA', ops: ['matmul'], params: [[12, 16], [12, 40]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true }) },
  { name: 'matmul in subgroup bands transB', ops: ['matmul'], params: [[16, 12], [40, 12]], build: (g, [a, b]) => g.matmul(a!, b!, { transB: true }) },
  { name: 'matmul in subgroup bands transA transB', ops: ['matmul'], params: [[12, 16], [40, 12]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true, transB: true }) },
  { name: 'matmul in subgroup bands, long inner (split-K)', ops: ['matmul'], params: [[8, 1024], [1024, 32]], build: (g, [a, b]) => g.matmul(a!, b!) },
  // A row times a matrix (a one-output layer's weight gradient) is a weighted column sum (colsum.wgsl).
  // A one-deep product is an outer product: A's column broadcast along B's row in vec4s (zip4.wgsl).
  { name: 'matmul outer product', ops: ['matmul'], params: [[7, 1], [1, 12]], build: (g, [a, b]) => g.matmul(a!, b!) },
  { name: 'matmul outer product transA', ops: ['matmul'], params: [[1, 7], [1, 12]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true }) },
  { name: 'matmul outer product transB', ops: ['matmul'], params: [[7, 1], [12, 1]], build: (g, [a, b]) => g.matmul(a!, b!, { transB: true }) },
  { name: 'matmul row times matrix (column sums)', ops: ['matmul'], params: [[1, 700], [700, 8]], build: (g, [a, b]) => g.matmul(a!, b!) },
  { name: 'matmul transA row times matrix (column sums)', ops: ['matmul'], params: [[300, 1], [300, 12]], build: (g, [a, b]) => g.matmul(a!, b!, { transA: true }) },
  { name: 'transpose', ops: ['transpose'], params: [[5, 3]], build: (g, [a]) => g.transpose(a!) },
  { name: 'reshape', ops: ['reshape'], params: [[6, 2]], build: (g, [a]) => g.reshape(a!, [3, 4]) },
  { name: 'broadcastTo [3]->[4,3]', ops: ['broadcastTo'], params: [[3]], build: (g, [a]) => g.broadcastTo(a!, [4, 3]) },
  { name: 'broadcastTo [4,1]->[4,3]', ops: ['broadcastTo'], params: [[4, 1]], build: (g, [a]) => g.broadcastTo(a!, [4, 3]) },
  { name: 'broadcastTo []->[2,3]', ops: ['broadcastTo'], params: [[]], build: (g, [a]) => g.broadcastTo(a!, [2, 3]) },
  { name: 'add [n,k]+[n,k]', ops: ['add'], params: [[7, 3], [7, 3]], build: (g, [a, b]) => g.add(a!, b!) },
  { name: 'add [n,k]+[k]', ops: ['add'], params: [[7, 3], [3]], build: (g, [a, b]) => g.add(a!, b!) },
  { name: 'add [n,1]+[1,k]', ops: ['add'], params: [[7, 1], [1, 3]], build: (g, [a, b]) => g.add(a!, b!) },
  { name: 'add [n,k]+[] scalar', ops: ['add'], params: [[7, 3], []], build: (g, [a, b]) => g.add(a!, b!) },
  { name: 'sub [k]-[n,k]', ops: ['sub'], params: [[3], [7, 3]], build: (g, [a, b]) => g.sub(a!, b!) },
  { name: 'mul [n,k]*[n,1]', ops: ['mul'], params: [[7, 3], [7, 1]], build: (g, [a, b]) => g.mul(a!, b!) },
  // Columns in vec4s (zip4.wgsl, map4.wgsl): an operand read along them, broadcast over the rows,
  // or broadcast along them ([n,1], a scalar), its buffer padded to whole vec4s (7 values, 1).
  { name: 'mul [n,k]*[n,1] in vec4s', ops: ['mul'], params: [[8, 4], [8, 1]], build: (g, [a, b]) => g.mul(a!, b!) },
  { name: 'mul [n,k]*[n,1] in vec4s, 7 rows', ops: ['mul'], params: [[7, 4], [7, 1]], build: (g, [a, b]) => g.mul(a!, b!) },
  { name: 'sub []-[n,k] in vec4s', ops: ['sub'], params: [[], [6, 4]], build: (g, [a, b]) => g.sub(a!, b!) },
  { name: 'sub [k]-[n,k] in vec4s', ops: ['sub'], params: [[8], [6, 8]], build: (g, [a, b]) => g.sub(a!, b!) },
  { name: 'tanh in vec4s', ops: ['tanh'], params: [[6, 4]], build: (g, [a]) => g.tanh(a!) },
  { name: 'squaredError [n,k],[n,k]', ops: ['squaredError'], params: [[7, 2], [7, 2]], build: (g, [a, b]) => g.squaredError(a!, b!) },
  { name: 'squaredError [n,k],[k]', ops: ['squaredError'], params: [[7, 2], [2]], build: (g, [a, b]) => g.squaredError(a!, b!) },
  { name: 'scale', ops: ['scale'], params: [[4, 3]], build: (g, [a]) => g.scale(a!, -2.5) },
  { name: 'relu', ops: ['relu'], params: [[7, 3]], build: (g, [a]) => g.relu(a!) },
  { name: 'tanh', ops: ['tanh'], params: [[7, 3]], build: (g, [a]) => g.tanh(a!) },
  { name: 'sigmoid', ops: ['sigmoid'], params: [[7, 3]], build: (g, [a]) => g.sigmoid(a!) },
  { name: 'a * step(a)', ops: ['step', 'mul'], params: [[7, 3]], build: (g, [a]) => g.mul(a!, g.step(a!)) },
  // Saturated: tanh(±60) is ±1 and sigmoid(±100) is 0 or 1, where a careless exp overflows to NaN.
  { name: 'tanh and sigmoid far out', ops: ['tanh', 'sigmoid'], params: [[4, 3]], build: (g, [a]) => g.add(g.tanh(g.scale(a!, 60)), g.sigmoid(g.scale(a!, 100))) },
  { name: 'sum all', ops: ['sum'], params: [[9, 5]], build: (g, [a]) => g.sum(a!) },
  { name: 'sum axis 0', ops: ['sum'], params: [[9, 5]], build: (g, [a]) => g.sum(a!, 0) },
  { name: 'sum axis 1', ops: ['sum'], params: [[9, 5]], build: (g, [a]) => g.sum(a!, 1) },
  // Sums over rows with columns in vec4s: lanes own columns and phases of the rows (colsum.wgsl),
  // the phases' partials added by partials.wgsl; a bias's gradient is one.
  { name: 'sum axis 0, columns in vec4s', ops: ['sum'], params: [[9, 8]], build: (g, [a]) => g.sum(a!, 0) },
  { name: 'mean axis 0, long, columns in vec4s (partials)', ops: ['mean'], params: [[1000, 12]], build: (g, [a]) => g.mean(a!, 0) },
  { name: 'add [n,k]+[k], k in vec4s', ops: ['add'], params: [[7, 8], [8]], build: (g, [a, b]) => g.add(a!, b!) },
  { name: 'sum of a vector', ops: ['sum'], params: [[11]], build: (g, [a]) => g.sum(a!, 0) },
  { name: 'mean all, long (two-pass)', ops: ['mean'], params: [[1000, 3]], build: (g, [a]) => g.mean(a!) },
  { name: 'mean axis 0', ops: ['mean'], params: [[9, 5]], build: (g, [a]) => g.mean(a!, 0) },
  { name: 'mean axis 1', ops: ['mean'], params: [[9, 5]], build: (g, [a]) => g.mean(a!, 1) },
  { name: 'constant', ops: ['constant', 'mul'], params: [[2, 3]], build: (g, [a]) => g.mul(a!, g.constant(1.5, [3])) },
  {
    name: 'linear regression loss',
    ops: ['matmul', 'transpose', 'add', 'squaredError', 'mean', 'input', 'param'],
    params: [[5, 3], [2, 3], [2], [5, 2]],
    build: (g, [X, W, b, Y]) => g.mean(g.squaredError(g.add(g.matmul(X!, g.transpose(W!)), b!), Y!)),
  },
];
