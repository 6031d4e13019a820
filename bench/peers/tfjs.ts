/**
 * @file TensorFlow.js peer runners: the regression trained the library's idiomatic way (two
 * `tf.variable`s, `tf.train.sgd(lr).minimize`) on its WebGPU backend and on its pure-JS CPU
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
  // tidy frees the zeros: a variable shares its initial tensor's data but does not own the tensor.
  const [W, b] = tf.tidy(() => [tf.variable(tf.zeros([k, d], 'float32'), true), tf.variable(tf.zeros([k], 'float32'), true)]);
  const optimizer = tf.train.sgd(lr);
  const loss = (): TF.Scalar => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(X, W, false, true), b), Y)));
  let disposed = false;
  return {
    async train(epochs) {
      if (disposed) throw new Error('TensorFlow.js session used after dispose()');
      await useBackend(tf, backend);
      let last: TF.Scalar | null = null;
      for (let e = 0; e < epochs; e++) {
        // minimize() evaluates the loss before applying the update; only the last one is kept.
        last = optimizer.minimize(loss, e === epochs - 1, [W, b]);
      }
      if (!last) throw new Error('TensorFlow.js: train() needs at least one epoch');
      const value = (await last.data())[0]!;
      last.dispose();
      return value;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose([X, Y, W, b]);
      optimizer.dispose();
    },
  };
}
