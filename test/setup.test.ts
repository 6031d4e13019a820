import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test("the README's test command sets up a fresh machine itself, and CI runs just that command", () => {
  const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.match(scripts.test!, /^bash scripts\/setup\.sh && /, 'npm test runs the set-up first');
  const ci = readFileSync('.ci/run', 'utf8');
  assert.match(ci, /^npm test$/m, '.ci/run runs npm test');
  assert.not.match(ci, /apt-get/, ".ci/run installs nothing itself: the set-up is npm test's");
  const readme = readFileSync('README.md', 'utf8');
  assert.match(readme, /npm test +# .*sets up/, 'the README says npm test sets up');
  for (const what of ['mesa-vulkan-drivers', 'bookworm-backports', 'chromium', 'Mesa 22']) assert.ok(readme.includes(what), `the README names ${what}`);
});

test('on a fresh Debian 12 (no lavapipe, no Chromium, no Mesa 22 tree), the set-up plans to install each, and says so', () => {
  // dpkg-query that knows no package: a machine with nothing installed; an empty cache folder.
  const bin = mkdtempSync(join(tmpdir(), 'fusegrad-fresh-'));
  writeFileSync(join(bin, 'dpkg-query'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(bin, 'dpkg-query'), 0o755);
  const cache = mkdtempSync(join(tmpdir(), 'fusegrad-cache-'));
  const r = spawnSync('bash', ['scripts/setup.sh', '--dry-run'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FUSEGRAD_CACHE: cache }, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /setup: installing mesa-vulkan-drivers \(Mesa's software Vulkan driver, lavapipe\) from bookworm-backports\n/);
  assert.match(r.stdout, /would run: .*apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers/);
  assert.match(r.stdout, /setup: installing chromium/);
  assert.match(r.stdout, /would run: .*apt-get install -y -qq chromium/);
  assert.match(r.stdout, new RegExp(`setup: downloading Debian 12's own Mesa 22\\.3 OpenGL drivers \\(libgl1-mesa-dri libegl-mesa0 libgbm1 libglapi-mesa\\) into ${cache}/mesa-bookworm, unpacked, not installed`));
  // On this machine (set up already), nothing is to do.
  const here = spawnSync('bash', ['scripts/setup.sh', '--dry-run'], { encoding: 'utf8' });
  assert.is(here.status, 0, here.stderr);
  assert.is(here.stdout, '', 'set up already: the set-up says and does nothing');
});

test.run();
