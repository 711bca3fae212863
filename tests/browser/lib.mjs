// Shared helpers of the browser tests: start the real `switchboard` binary on a free
// 127.0.0.1 port with a temp data dir and an admin token, launch Debian's headless
// chromium through playwright-core, tiny assertions, and a hard deadline for the whole run.
// Environment (set by run.sh / CTest):
//   SB_SERVER       path of the built switchboard binary (required)
//   SB_ARTIFACTS    folder for screenshots and the server log (default: a temp dir)
//   SB_NODE_MODULES folder holding playwright-core (default: ./node_modules)
//   SB_CHROMIUM     browser binary (default: /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const modules = process.env.SB_NODE_MODULES || path.join(here, 'node_modules');
const require = createRequire(path.join(modules, 'x.js'));
export const { chromium } = require('playwright-core');

export const artifacts = process.env.SB_ARTIFACTS
  || fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-artifacts-'));
fs.mkdirSync(artifacts, { recursive: true });

export function log(...args) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...args);
}

export class AssertionError extends Error {}
export function assert(cond, what) {
  if (!cond) throw new AssertionError('assertion failed: ' + what);
}
export function assertEq(actual, expected, what) {
  if (actual !== expected) {
    throw new AssertionError(`assertion failed: ${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

/// Polls `fn` until it returns a truthy value; throws after `ms` with `what`.
export async function eventually(fn, what, ms = 10000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new AssertionError(`timed out after ${ms} ms waiting for ${what}` + (last instanceof Error ? ` (${last.message})` : ''));
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/// Spawns the binary on `port` (0 = ephemeral) with `dataDir`; resolves once it listens.
export async function spawnServer(bin, dir, port, adminToken, logFile, extra = []) {
  const child = spawn(bin, ['--host=127.0.0.1', '--port=' + port, '--data-dir=' + path.join(dir, 'data'),
    '--password-hash=min', '--admin-token=' + adminToken, ...extra], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { child, exited: false };
  child.on('exit', () => { proc.exited = true; });
  let out = '';
  proc.port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start within 20 s:\n' + out)), 20000);
    const onData = (d) => {
      fs.writeSync(logFile, d);
      if (out.length < 65536) out += d.toString();
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}) before listening:\n${out}`)); });
  });
  return proc;
}

/// SIGTERM by PID, SIGKILL after 15 s; resolves once the process is gone.
export async function killServer(proc) {
  if (proc.exited) return;
  process.kill(proc.child.pid, 'SIGTERM');
  const deadline = Date.now() + 15000;
  while (!proc.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!proc.exited) {
    log(`server pid ${proc.child.pid} still running after SIGTERM: SIGKILL`);
    process.kill(proc.child.pid, 'SIGKILL');
    const until = Date.now() + 5000;
    while (!proc.exited && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  }
}

/// A running server; restart() stops it and starts it again on the same port and data dir;
/// stop() kills it by PID and removes its temp dir.
export async function startServer({ adminToken = 'browser-test-admin-secret-0123456789' } = {}) {
  const bin = process.env.SB_SERVER;
  if (!bin || !fs.existsSync(bin)) throw new Error('SB_SERVER must name the built switchboard binary, got ' + bin);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-'));
  const logPath = path.join(artifacts, 'server.log');
  const logFile = fs.openSync(logPath, 'w');
  let proc = await spawnServer(bin, dir, 0, adminToken, logFile);
  const port = proc.port;
  log(`server pid ${proc.child.pid} on 127.0.0.1:${port}, data ${dir}, log ${logPath}`);
  return {
    port,
    adminToken,
    base: `http://127.0.0.1:${port}`,
    get pid() { return proc.child.pid; },
    /// `between` runs while the server is down.
    async restart(between) {
      await killServer(proc);
      if (between) await between();
      proc = await spawnServer(bin, dir, port, adminToken, logFile);
      log(`server restarted: pid ${proc.child.pid} on 127.0.0.1:${port}`);
    },
    async stop() {
      await killServer(proc);
      fs.closeSync(logFile);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/// Debian's chromium, headless. As root it needs --no-sandbox; the other flags keep it from
/// reaching for the network (it would hang on a closed one).
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.SB_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage',
      '--disable-default-apps', '--disable-sync', '--metrics-recording-only'],
  });
}

/// A page whose console errors and page errors are collected (and printed).
export async function newPage(browser, label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10000);
  context.setDefaultNavigationTimeout(15000);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => { page.errors.push(String(e)); log(`${label} page error:`, String(e)); });
  page.on('console', (m) => { if (m.type() === 'error') log(`${label} console error:`, m.text()); });
  return page;
}

/// Runs named test functions in order, each with a deadline; prints "N passed, N failed".
export async function runTests(tests, { totalMs = 240000 } = {}) {
  const hard = setTimeout(() => {
    console.error(`browser tests: over the ${totalMs} ms deadline, exiting`);
    process.exit(2);
  }, totalMs);
  hard.unref();
  let passed = 0;
  let failed = 0;
  for (const [name, fn, ms] of tests) {
    const started = Date.now();
    log(`--- ${name}`);
    try {
      await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error(`test over ${ms} ms`)), ms))]);
      passed++;
      log(`PASS ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed++;
      log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0;
}
