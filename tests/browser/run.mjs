// Entry point of the browser tests (CTest label `browser`, via run.sh): one server, one
// headless chromium, the chat scenario then the admin console scenario, then the cluster
// panel (its own etcd and two nodes). Prints
// "N passed, N failed" and the screenshot paths; exit status 0 only if every test passed.
import { adminTest } from './admin.spec.mjs';
import { chatTest, dmAndHistoryTest, resumeTest } from './chat.spec.mjs';
import { clusterConsoleTest } from './cluster.spec.mjs';
import { streamFallbackTest } from './fallback.spec.mjs';
import { artifacts, launchBrowser, log, runTests, startServer } from './lib.mjs';

const server = await startServer();
let browser;
let ok = false;
try {
  browser = await launchBrowser();
  log('chromium', browser.version());
  let chat = null;
  ok = await runTests([
    ['chat: two users, badges, typing, threads, reactions, edits', async () => { chat = await chatTest(browser, server); }, 120000],
    ['reconnect: server restart while one browser is offline, resume without loss or duplicates', async () => {
      if (!chat) throw new Error('needs the chat test');
      await resumeTest(browser, server, chat);
    }, 90000],
    ['DMs by name and history that scrolls back', async () => {
      if (!chat) throw new Error('needs the chat test');
      await dmAndHistoryTest(browser, server, chat);
    }, 90000],
    ['admin console: find the channel, stop it, restart count rises, chat still works', async () => {
      if (!chat) throw new Error('needs the chat test');
      await adminTest(browser, server, chat);
    }, 90000],
    ['event stream fallback: a browser whose WebSockets are stripped chats over /sse', async () => {
      await streamFallbackTest(browser, server);
    }, 60000],
    ['admin console, cluster panel: two nodes on etcd, one killed', async () => {
      await clusterConsoleTest(browser);
    }, 60000],
  ], { totalMs: 380000 });
} catch (e) {
  log('browser tests failed to run:', e && e.stack ? e.stack : e);
  console.log('0 passed, 1 failed');
} finally {
  if (browser) await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 10000))]);
  await server.stop();
  log('artifacts in', artifacts);
}
process.exit(ok ? 0 : 1);
