/**
 * @file The `fusegrad` command's entry. The packages only the command uses (CSV parsing, the
 * t distribution, progress bars, charts, PNG plots) are optional dependencies, so that an app
 * embedding the library can install it without them (`npm install fusegrad --omit=optional`).
 * This checks they are there, and says how to install them when not, before the command loads.
 */
const CLI_PACKAGES = ['papaparse', 'cli-progress', 'asciichart', '@stdlib/math-base-special-betainc', '@stdlib/stats-base-dists-t-cdf', '@stdlib/stats-base-dists-t-quantile', '@resvg/resvg-js'];

const missing = CLI_PACKAGES.filter((name) => {
  try {
    import.meta.resolve(name);
    return false;
  } catch {
    return true;
  }
});
if (missing.length) {
  process.stderr.write(`fusegrad: the command needs ${missing.join(', ')}, optional dependencies that were not installed (npm install --omit=optional leaves them out); install them with: npm install ${missing.join(' ')}\n`);
  process.exitCode = 2;
} else {
  await import('./main.js');
}
