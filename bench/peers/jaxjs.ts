/**
 * @file jax-js peer runners: the regression (or a network of tanh layers) trained jax-js's functional way (a loss function of a
 * parameter tree, `valueAndGrad` inside one `jit`-compiled SGD step) on its WebGPU backend and on
 * its WebAssembly CPU backend (single-threaded in Node 20, which has no global Worker). Each backend
 * comes in two variants: reading the loss back every epoch, and reading only the final loss. With
 * no read, jax-js keeps queuing lazy work and its per-epoch time grew with the epoch count, so the
 * two show both costs. Call `installNavigator()` first: jax-js finds its adapter on
 * `navigator.gpu` and reads `navigator.userAgent` even on the CPU backend.
 */
import type * as Jax from '@jax-js/jax';
import { installNavigator, requireAdapter } from './node-navigator.js';
import type { PeerProblem, PeerRunner, PeerSession } from './types.js';

type JaxModule = typeof Jax;
type JaxArray = Jax.Array;
type JaxDevice = 'webgpu' | 'wasm';
type ReadMode = 'every' | 'once';
// A `type` alias, not an interface: jax-js's JsTree typing only accepts aliases for parameter trees.
type Params = { W: JaxArray[]; b: JaxArray[] };

let loading: Promise<JaxModule> | undefined;

function loadJax(): Promise<JaxModule> {
  loading ??= (async () => {
    await installNavigator();
    return import('@jax-js/jax');
  })();
  return loading;
}

export async function jaxRunners(): Promise<PeerRunner[]> {
  const jax = await loadJax();
  const runners: PeerRunner[] = [];
  for (const device of ['webgpu', 'wasm'] as const) {
    for (const read of ['every', 'once'] as const) {
      const label = read === 'every' ? 'read every epoch' : 'read once';
      runners.push({ name: `jax-js ${device} (${label})`, setup: (p) => setup(jax, device, read, p) });
    }
  }
  return runners;
}

async function setup(jax: JaxModule, device: JaxDevice, read: ReadMode, p: PeerProblem): Promise<PeerSession> {
  if (device === 'webgpu') await requireAdapter('jax-js webgpu');
  // init() returns every backend started so far, and starts none it cannot (no error, no reason).
  const started = await jax.init(device);
  if (!started.includes(device)) {
    const why = device === 'webgpu' ? 'the adapter refused it a device; jax-js logs why' : 'WebAssembly is unavailable';
    throw new Error(`jax-js: the ${device} backend did not initialize (${why}); started: ${started.join(', ') || 'none'}`);
  }
  // jit traces on the default device; every array is also placed (committed) on it explicitly.
  jax.defaultDevice(device);
  const { numpy: np } = jax;
  const { n, d, k, lr } = p;
  // Ownership: every jax-js call consumes its array arguments; `.ref` keeps one for a later use.
  const X = np.array(p.X, { shape: [n, d], dtype: np.float32, device });
  const Y = np.array(p.Y, { shape: [n, k], dtype: np.float32, device });
  // One W (units x inputs) and b per layer, from the problem's starting values.
  const sizes = [d, ...p.hidden, k];
  const layers = sizes.length - 1;
  const start = (i: number, shape: number[]) => np.array(p.init[i]!, { shape, dtype: np.float32, device });
  let params: Params = {
    W: Array.from({ length: layers }, (_, l) => start(2 * l, [sizes[l + 1]!, sizes[l]!])),
    b: Array.from({ length: layers }, (_, l) => start(2 * l + 1, [sizes[l + 1]!])),
  };

  const loss = (w: Params, x: JaxArray, y: JaxArray): JaxArray => {
    let h = x;
    for (let l = 0; l < layers; l++) {
      const z = np.matmul(h, w.W[l]!.transpose()).add(w.b[l]!);
      h = l === layers - 1 ? z : np.tanh(z);
    }
    return np.square(h.sub(y)).mean();
  };
  const step = jax.jit((w: Params, x: JaxArray, y: JaxArray): [Params, JaxArray] => {
    const [value, g] = jax.valueAndGrad(loss)(jax.tree.ref(w), x, y);
    return [{ W: w.W.map((W, l) => W.sub(g.W[l]!.mul(lr))), b: w.b.map((b, l) => b.sub(g.b[l]!.mul(lr))) }, value];
  });

  let disposed = false;
  return {
    async train(epochs) {
      if (disposed) throw new Error('jax-js session used after dispose()');
      if (epochs < 1) throw new Error('jax-js: train() needs at least one epoch');
      jax.defaultDevice(device);
      let last = NaN;
      for (let e = 0; e < epochs; e++) {
        const [next, value] = step(params, X.ref, Y.ref);
        params = next;
        if (read === 'every' || e === epochs - 1) last = (await value.data())[0]!;
        else value.dispose();
      }
      return last;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      jax.tree.dispose([X, Y, params]);
      step.dispose();
    },
  };
}
