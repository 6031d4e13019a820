/** @file WGSL sources are imported as text; esbuild's text loader inlines them at build time. */
declare module '*.wgsl' {
  const source: string;
  export default source;
}
