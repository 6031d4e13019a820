/**
 * @file fusegrad's public API. The folders run in pipeline order, each depending only on those
 * before it: engine/ (graph IR, initializers) → autograd/ (backward pass) → nn/ (layers) → optim/
 * (update rules) → wgsl/ (kernel skeletons) → compile/ (schedule, emit, lay out) → runtime/
 * (backends, compile(), predict()).
 */
export { Graph, Tensor, formatNode, type Node, type Role, type MatmulOptions } from './engine/graph.js';
export { OPS, type OpKind, type OpAttrs, type FloatArray } from './engine/ops.js';
export { ShapeError, type Shape, fmtShape, sizeOf } from './engine/shape.js';
export { INIT_RULES, initValues, type Init, type InitRule } from './engine/init.js';
export * as nn from './nn/layers.js';
export { backward } from './autograd/backward.js';
export { sgd, type SgdOptions } from './optim/sgd.js';
export { adam, adamw, type AdamOptions } from './optim/adam.js';
export { OptimizerError, type Optimizer } from './optim/optimizer.js';
export { KERNELS, RULES, KernelError, type KernelName } from './wgsl/kernels.js';
export { CpuBackend, CPU_RECORD_BYTES, type Precision } from './runtime/cpu.js';
export { WebGpuBackend } from './runtime/webgpu.js';
export { requestBackend, NoAdapterError, DRIVER_ADVICE, type BackendOptions, type DeviceKind } from './runtime/device.js';
export { compile, Model, DataError, DisposedError, FLOAT32_MAX, type CompileOptions, type Control, type ModelState, type SavedNode, type SavedOptions, type Divergence, type EarlyStopping, type NumberArray, type PredictOptions, type Progress, type Stop, type TensorData, type TrainOptions, type TrainResult } from './runtime/model.js';
export { DeviceError, StateError, type Backend, type Bootstrap, type Executable, type PlanOptions, type Program, type Stats } from './runtime/program.js';
export { planPerNode } from './compile/per-node.js';
export { formatPlan, PlanError, type Plan, type Step } from './compile/plan.js';
export { type Layout } from './compile/layout.js';
export { planCompiled } from './compile/fuse.js';
export { schedule, Unfusable, type Schedule } from './compile/schedule.js';
export { debugLevel, setDebug, setDebugSink } from './runtime/debug.js';
