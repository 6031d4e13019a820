import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

// The teaching page in a real headless Chromium (Debian's package) with WebGPU on: SwiftShader gives
// it an adapter. REQUIRED like every GPU test: no browser is a failure with the install line.
const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve('dist/web');
const DIST = resolve('dist');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.csv': 'text/csv', '.map': 'application/json' };

/** The teaching page (dist/web), and the browser bundle at /fusegrad.browser.js; `isolated` adds the headers that make a page cross-origin isolated. */
function serve(isolated = false): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/$/, '/index.html');
    const path = name === '/fusegrad.browser.js' ? join(DIST, name) : join(ROOT, name);
    if (!(path.startsWith(ROOT) || path === join(DIST, 'fusegrad.browser.js')) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    const headers = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', ...headers }).end(readFileSync(path));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })));
}

test('the page trains on WebGPU in headless Chromium, draws the curve and lands on the closed form', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (CI's .ci/run does)`);
  const { server, url } = await serve();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('backend')!.dataset.kind !== '', undefined, { timeout: 30_000 });
    const backendText = await page.textContent('#backend');
    assert.is(await page.getAttribute('#backend', 'data-kind'), 'webgpu', `the page says: ${backendText}`);
    assert.match(backendText!, /Running on WebGPU/);
    await page.selectOption('#dataset', 'mpg');
    await page.fill('#epochs', '1000');
    await page.click('#train');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 120_000 });
    assert.is(await page.getAttribute('#status', 'data-state'), 'done', (await page.textContent('#status')) ?? '');
    assert.ok(await page.$('#loss-chart svg path'), 'the loss curve is drawn');
    assert.ok(await page.$('#fit-chart svg circle'), 'the data are drawn');
    const final = Number(await page.textContent('#final-loss'));
    const closed = Number(await page.textContent('#closed-form-loss'));
    assert.ok(Math.abs(final - closed) <= 1e-3 * closed, `final loss ${final} vs closed form ${closed}`);
    assert.match((await page.textContent('#forward'))!, /= squaredError %\d+, %1/);
    assert.match((await page.textContent('#backward'))!, /; backward: dW/);
    assert.match((await page.textContent('#plan'))!, /^plan: tiny/);
    assert.ok((await page.$$('#wgsl .fused')).length >= 5, 'the WGSL lines that compute nodes are marked');
    // Every generated line links to its node, and a node of the backward graph marks its lines.
    const dW = /%(\d+):\S+ = transpose \S+ +; backward: dW/.exec((await page.textContent('#backward'))!)![1]!;
    const matmul = /%(\d+):\S+ = matmul %0, \S+ \(transA\)/.exec((await page.textContent('#backward'))!)![1]!;
    assert.ok(await page.$(`#wgsl a.tag[href="#node-${matmul}"]`), `a WGSL line links to %${matmul}`);
    await page.click(`#node-${matmul}`);
    assert.ok((await page.$$(`#wgsl .line.active[data-node="${matmul}"]`)).length >= 1, `clicking %${matmul} marks its lines`);
    assert.match((await page.textContent('#node-status'))!, new RegExp(`%${matmul}: \\d+ lines? of WGSL compute it`));
    await page.click(`#node-${dW}`);
    assert.match((await page.textContent('#node-status'))!, new RegExp(`%${dW}: no WGSL line computes it`), 'dW is a view of the matmul (Wᵀ read in place)');
    assert.match((await page.textContent('#result'))!, /on the tiny plan \(\d+ submissions, \d+ reads\)/);
    // A list of rates: one model per rate in the same dispatch, their curves on one chart, a row each.
    await page.fill('#lr', '0.1, 0.01, 0.001');
    await page.fill('#epochs', '300');
    await page.click('#train');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 120_000 });
    assert.match((await page.textContent('#status'))!, /^done: 3 models, 300 epochs on webgpu/);
    assert.is((await page.$$('#result tr.rate')).length, 3, 'a row per rate');
    assert.match((await page.textContent('#result'))!, /0\.001.*ok.*on the tiny plan \(1 submission, 1 read\)/s);
    assert.match((await page.textContent('#loss-chart'))!, /lr 0\.1.*lr 0\.01.*lr 0\.001/s);
    assert.match((await page.textContent('#plan'))!, /3 replicates, one workgroup each, each with its own hyperparameters/);
    assert.is((await page.$$('#loss-chart svg path')).length >= 3, true, 'three curves');
    mkdirSync('test/artifacts', { recursive: true });
    await page.screenshot({ path: 'test/artifacts/web.png', fullPage: false });
    // A rate just past the stable limit diverges in a later chunk of reads: the status names the
    // epoch the chart ends at, not the epoch within the chunk.
    await page.selectOption('#dataset', 'mpg');
    await page.check('#standardize');
    await page.fill('#lr', '1.05');
    await page.fill('#epochs', '1000');
    await page.click('#train');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 120_000 });
    const status = (await page.textContent('#status'))!;
    const shown = Number(/Loss by epoch \((\d+) of 1000\)/.exec((await page.textContent('#loss-chart'))!)![1]);
    assert.ok(shown > 50, `diverged after the first chunk of 50 epochs (${shown})`);
    assert.match(status, new RegExp(`the loss grew to .* at epoch ${shown},`), status);
    await page.fill('#lr', '0.1, fast');
    await page.click('#train');
    await page.waitForSelector('#status[data-state="error"]', { timeout: 30_000 });
    assert.match((await page.textContent('#status'))!, /Learning rate: "fast" is not a positive number/);
    assert.equal(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test('without WebGPU the page says so and trains on the CPU backend', async () => {
  const { server, url } = await serve();
  // No --enable-unsafe-webgpu, and WebGPU switched off: navigator.gpu is absent.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-features=WebGPU,Vulkan', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('backend')!.dataset.kind !== '', undefined, { timeout: 30_000 });
    assert.is(await page.getAttribute('#backend', 'data-kind'), 'cpu');
    assert.match((await page.textContent('#backend'))!, /no WebGPU, so fusegrad runs on its CPU backend/);
    await page.selectOption('#dataset', 'crop');
    await page.fill('#epochs', '200');
    await page.click('#train');
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 60_000 });
    assert.match((await page.textContent('#status'))!, /done: 200 epochs on cpu/);
  } finally {
    await browser.close();
    server.close();
  }
});

test('the CPU backend on worker threads in a cross-origin isolated page: the same losses as one thread and as the reference', async () => {
  const { server, url } = await serve(true);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-background-networking', '--no-first-run'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    const result = await page.evaluate(async () => {
      const bundle = '/fusegrad.browser.js';
      const f = await import(bundle);
      const train = async (threads: number, plan: 'compiled' | 'reference') => {
        const n = 600;
        const g = new f.Graph();
        const X = g.input('X', [n, 3]);
        const Y = g.input('Y', [n, 1]);
        const hidden = g.tanh(g.add(g.matmul(X, g.param('W1', [4, 3]), { transB: true }), g.param('b1', [4])));
        const loss = g.mean(g.squaredError(g.add(g.matmul(hidden, g.param('W2', [1, 4]), { transB: true }), g.param('b2', [1])), Y));
        const model = await f.compile(g, { loss, optimizer: f.adam({ lr: 0.02 }), backend: new f.CpuBackend('f64'), plan, threads, batchSize: 200, shuffle: true, validationRows: 50 });
        const rows = (k: number, c: number) => Float64Array.from({ length: k * c }, (_, i) => Math.sin(1.7 * i + c));
        model.write({ X: rows(n, 3), Y: rows(n, 1), W1: rows(4, 3).map((v) => 0.5 * v), W2: rows(1, 4).map((v) => 0.5 * v) });
        model.write({ X: rows(50, 3), Y: rows(50, 1) }, 'validation');
        const run = await model.train({ epochs: 5 });
        const explain = model.explain();
        model.dispose();
        return { loss: [...run.loss], valid: [...run.validLoss!], explain };
      };
      return { isolated: crossOriginIsolated, two: await train(2, 'compiled'), one: await train(1, 'compiled'), ref: await train(1, 'reference') };
    });
    assert.ok(result.isolated, 'the page is cross-origin isolated');
    assert.match(result.two.explain, /note: 2 threads \(the main thread and 1 worker, as asked\)/);
    for (const [name, other] of [['one thread', result.one], ['the reference', result.ref]] as const) {
      result.two.loss.forEach((v, i) => assert.ok(Math.abs(v - other.loss[i]!) <= 1e-12 * Math.max(1, Math.abs(v)), `loss ${i}: ${v} on 2 threads, ${other.loss[i]} on ${name}`));
      result.two.valid.forEach((v, i) => assert.ok(Math.abs(v - other.valid[i]!) <= 1e-12 * Math.max(1, Math.abs(v)), `validation loss ${i} against ${name}`));
    }
    assert.equal(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

test.run();
