/** @file WGSL sources are imported as text; esbuild's text loader inlines them at build time. */
declare module '*.wgsl' {
  const source: string;
  export default source;
}

/** asciichart ships no types; the one function used. */
declare module 'asciichart' {
  const asciichart: { plot(series: number[] | number[][], config?: { height?: number; format?: (v: number) => string }): string };
  export default asciichart;
}
