// Browser test of the console's cluster panel (web/admin/): a real etcd and two real
// cluster nodes on loopback ports; the operator logs in on node 1 and sees both nodes up,
// linked, and 256 partitions split between them; node 2 is killed (-9) and the panel shows
// it down with its partitions unavailable, as a person watching the console would see it;
// before that, node 2's supervision tree is opened from node 1's console, and the operator
// clicks one of node 1's partitions and moves it to node 2 (a prompt asks where).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { artifacts, assert, assertEq, eventually, killServer, log, newPage, spawnServer } from './lib.mjs';

const tid = (id) => `[data-testid="${id}"]`;
const token = 'browser-cluster-admin-secret-012345';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function startEtcd(dir) {
  const client = await freePort();
  const peer = await freePort();
  const c = `http://127.0.0.1:${client}`;
  const p = `http://127.0.0.1:${peer}`;
  const child = spawn('/usr/bin/etcd', ['--name', 'default', '--data-dir', path.join(dir, 'etcd'),
    '--listen-client-urls', c, '--advertise-client-urls', c, '--listen-peer-urls', p,
    '--initial-advertise-peer-urls', p, '--initial-cluster', 'default=' + p, '--log-level', 'warn'],
  { cwd: dir, stdio: 'ignore' });
  const proc = { child, exited: false, port: client };
  child.on('exit', () => { proc.exited = true; });
  await eventually(async () => (await fetch(c + '/health')).ok, 'etcd healthy', 10000);
  return proc;
}

export async function clusterConsoleTest(browser) {
  const bin = process.env.SB_SERVER;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-cluster-'));
  const logFile = fs.openSync(path.join(artifacts, 'cluster-nodes.log'), 'w');
  const procs = [];
  let etcd;
  try {
    etcd = await startEtcd(dir);
    for (const id of [1, 2]) {
      const nodeDir = path.join(dir, 'node' + id);
      fs.mkdirSync(nodeDir);
      procs.push(await spawnServer(bin, nodeDir, 0, token, logFile, [
        '--node-id=' + id, '--cluster.etcd=127.0.0.1:' + etcd.port, '--cluster.port=' + await freePort(),
        '--cluster.lease-ttl-ms=2000', '--cluster.expect-nodes=2', '--cluster.stable-after-ms=300',
        '--cluster.heartbeat-ms=200', '--cluster.link-timeout-ms=1500']));
    }
    const page = await newPage(browser, 'cluster-console');
    await page.goto(`http://127.0.0.1:${procs[0].port}/admin/`);
    await page.fill(tid('token-input'), token);
    await page.click(tid('login-button'));
    await page.locator(tid('cluster')).waitFor({ state: 'visible' });

    const row = (n) => page.locator(`${tid('cluster-node')}[data-node="${n}"]`);
    log('cluster console: both nodes up and linked, 256 partitions split between them');
    await eventually(async () => (await row(1).getAttribute('data-link')) === 'self'
      && (await row(2).getAttribute('data-link')) === 'connected'
      && (await row(2).getAttribute('data-state')) === 'up', 'node 2 up and linked', 15000);
    await eventually(async () => (await page.locator(`${tid('partition')}[data-primary="2"]`).count()) > 0,
      'partitions assigned', 15000);
    assertEq(await page.locator(tid('partition')).count(), 256, 'one cell per partition');
    const owned2 = await page.locator(`${tid('partition')}[data-primary="2"]`).count();
    const owned1 = await page.locator(`${tid('partition')}[data-primary="1"]`).count();
    assertEq(owned1 + owned2, 256, 'every partition has one of the two owners');
    assert((await page.textContent(tid('cluster-self'))).includes('serving'), 'node 1 says it is serving');
    // Per-peer traffic: the presence directories pull each other's snapshot once linked.
    await eventually(async () => /^[1-9]/.test(await row(2).locator(tid('cluster-traffic')).textContent()),
      'messages to node 2 counted', 10000);
    await page.screenshot({ path: path.join(artifacts, 'cluster-up.png') });

    log("cluster console: node 2's supervision tree, read through node 1");
    await page.selectOption(tid('tree-of'), '2');
    await page.locator(`${tid('tree')} ${tid('tree-node')}[data-key="cluster"]`).waitFor({ timeout: 10000 });
    await page.locator(`${tid('tree')} ${tid('tree-node')}[data-key="channels"]`).waitFor();
    await page.selectOption(tid('tree-of'), '');

    log('cluster console: the operator clicks a partition of node 1 and moves it to node 2');
    const cell = page.locator(`${tid('partition')}[data-primary="1"]`).first();
    const moved = await cell.getAttribute('data-partition');
    page.once('dialog', (d) => d.accept('2'));
    await cell.click();
    const movedCell = page.locator(`${tid('partition')}[data-partition="${moved}"]`);
    await eventually(async () => (await movedCell.getAttribute('data-primary')) === '2',
      `partition ${moved} shown on node 2`, 15000);
    await eventually(async () => (await page.locator(`${tid('cluster-move')}[data-partition="${moved}"]`)
      .getAttribute('data-phase')) === 'done', `the move of partition ${moved} listed as done`, 5000);
    await eventually(async () => (await page.textContent(tid('cluster-events'))).includes('move_done'),
      'the event log shows move_done', 5000);
    const owned2now = await page.locator(`${tid('partition')}[data-primary="2"]`).count();
    assertEq(owned2now, owned2 + 1, 'node 2 owns one partition more');
    assertEq(await page.locator(`${tid('drain-button')}[data-node="2"]`).count(), 1, 'node 2 can be drained');
    await page.screenshot({ path: path.join(artifacts, 'cluster-moved.png') });

    log('cluster console: kill -9 node 2; the panel shows it down and its partitions unavailable');
    procs[1].child.kill('SIGKILL');
    await eventually(async () => (await row(2).getAttribute('data-state')) === 'down', 'node 2 shown down', 10000);
    await eventually(async () => (await page.locator(`${tid('partition')}[data-available="false"]`).count()) === owned2 + 1,
      "node 2's partitions shown unavailable", 5000);
    assertEq(await page.locator(`${tid('partition')}[data-primary="2"]`).count(), owned2 + 1, 'ownership is kept');
    assert((await page.textContent(tid('cluster-events'))).includes('node_down'), 'the event log shows node_down');
    assert((await page.textContent(tid('partition-summary'))).includes('unavailable ' + (owned2 + 1)), 'summary counts them');
    await page.screenshot({ path: path.join(artifacts, 'cluster-node-down.png') });
    assertEq(page.errors.length, 0, 'no page errors: ' + page.errors.join('; '));
  } finally {
    for (const p of procs) await killServer(p);
    if (etcd && !etcd.exited) etcd.child.kill('SIGKILL');
    fs.closeSync(logFile);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
