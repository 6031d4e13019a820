/**
 * @file TensorFlow.js peer runners: the regression (or a network of tanh layers) trained the
 * library's idiomatic way (a `tf.variable` per weight and bias, `tf.train.sgd(lr).minimize`) on its WebGPU backend and on its pure-JS CPU
 * backend. Call `installNavigator()` first; the libraries are imported here, lazily, after it.
 */
import type * as TF from '@tensorflow/tfjs';
import { installNavigator, requireAdapter } from './node-navigator.js';
import type { PeerProblem, PeerRunner, PeerSession } from './types.js';

type Tf = typeof TF;
type TfBackend = 'webgpu' | 'cpu';

let loading: Promise<Tf> | undefined;

/**
 * `@tensorflow/tfjs`, not tfjs-core alone: the full package is what registers the gradients
 * (tfjs-core cannot differentiate Mean by itself). The WebGPU backend registers itself only if
 * `navigator.gpu` exists at its import, hence the dynamic import after installNavigator().
 */
function loadTf(): Promise<Tf> {
  loading ??= (async () => {
    await installNavigator();
    // Both are CommonJS in Node; the namespace's default is the module's exports object.
    const mod = (await import('@tensorflow/tfjs')) as Tf & { default?: Tf };
    const tf = mod.default ?? mod;
    await import('@tensorflow/tfjs-backend-webgpu');
    return tf;
  })();
  return loading;
}

export async function tfjsRunners(): Promise<PeerRunner[]> {
  const tf = await loadTf();
  return [
    { name: 'TensorFlow.js webgpu', setup: (p) => setup(tf, 'webgpu', p) },
    { name: 'TensorFlow.js cpu', setup: (p) => setup(tf, 'cpu', p) },
  ];
}

/**
 * tfjs has one active backend per process; a tensor used while another backend is active gets
 * copied over, so every entry point selects this session's backend first.
 */
async function useBackend(tf: Tf, backend: TfBackend): Promise<void> {
  if (tf.getBackend() === backend) return;
  if (!tf.findBackendFactory(backend)) {
    const registered = Object.keys(tf.engine().registryFactory).join(', ') || 'none';
    throw new Error(`TensorFlow.js: no ${backend} backend is registered (registered: ${registered}); for webgpu, navigator.gpu was missing when @tensorflow/tfjs-backend-webgpu was imported`);
  }
  if (backend === 'webgpu') await requireAdapter('TensorFlow.js webgpu');
  // setBackend resolves false (and logs the cause) rather than throwing when the backend fails to start.
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js: the ${backend} backend failed to initialize (see the error logged above)`);
  await tf.ready();
}

async function setup(tf: Tf, backend: TfBackend, p: PeerProblem): Promise<PeerSession> {
  await useBackend(tf, backend);
  const { n, d, k, lr } = p;
  const X = tf.tensor2d(p.X, [n, d], 'float32');
  const Y = tf.tensor2d(p.Y, [n, k], 'float32');
  // One W (units x inputs) and b per layer, from the problem's starting values.
  const sizes = [d, ...p.hidden, k];
  const vars = p.init.map((values, i) => {
    const l = Math.floor(i / 2);
    return tf.variable(i % 2 ? tf.tensor1d(values, 'float32') : tf.tensor2d(values, [sizes[l + 1]!, sizes[l]!], 'float32'), true);
  });
  const optimizer = tf.train.sgd(lr);
  const loss = (): TF.Scalar =>
    tf.tidy(() => {
      let h: TF.Tensor2D = X;
      for (let l = 0; l < vars.length / 2; l++) {
        const z = tf.add(tf.matMul(h, vars[2 * l]! as TF.Variable<TF.Rank.R2>, false, true), vars[2 * l + 1]!) as TF.Tensor2D;
        h = l === vars.length / 2 - 1 ? z : tf.tanh(z);
      }
      return tf.mean(tf.square(tf.sub(h, Y)));
    });
  let disposed = false;
  return {
    async train(epochs) {
      if (disposed) throw new Error('TensorFlow.js session used after dispose()');
      await useBackend(tf, backend);
      let last: TF.Scalar | null = null;
      for (let e = 0; e < epochs; e++) {
        // minimize() evaluates the loss before applying the update; only the last one is kept.
        last = optimizer.minimize(loss, e === epochs - 1, vars);
      }
      if (!last) throw new Error('TensorFlow.js: train() needs at least one epoch');
      const value = (await last.data())[0]!;
      last.dispose();
      return value;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose([X, Y, ...vars]);
      optimizer.dispose();
    },
  };
}
