/**
 * @file The browser bundle (dist/fusegrad.browser.js): the engine, plus the regression toolkit a
 * page needs (CSV parsing, fitting, the closed form, SVG plots). WebGPU comes from the browser's
 * navigator.gpu; without it, requestBackend({ device: 'auto' }) runs on the CPU and says why.
 */
export * from './index.js';
export { parseTable, selectColumns, InputError } from './regression/data.js';
export { fitRegression, type FitOptions, type FitResult } from './regression/fit.js';
export { fitNetwork, networkGraph, initialLayers, predictNetwork, savedNetwork, type Activation, type Layer, type NetworkOptions, type NetworkResult, type SavedNetwork } from './regression/network.js';
export { bootstrapFit, residualPool, type BootstrapMethod, type BootstrapSummary } from './regression/bootstrap.js';
export { ols, formatOls, type OlsResult } from './regression/ols.js';
export { svgChart, stack, PALETTE, type Series } from './regression/plot.js';
export { APPLES, APPLES15 } from './examples/apples.js';
