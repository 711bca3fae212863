// Browser test of the event stream fallback (docs/protocol.md "Event stream fallback"):
// carol's browser sits behind a "proxy" that kills every WebSocket at once (Playwright
// routes /ws and closes it), so her client falls back to GET /sse + POST /sse/{stream}
// after two WebSockets that never said hello. She chats with dave, whose browser uses a
// WebSocket as usual, both ways; she never opened a working WebSocket.
import path from 'node:path';
import { artifacts, assert, assertEq, eventually, log, newPage } from './lib.mjs';
import { createChannel, message, sendMessage, signUp } from './chat.spec.mjs';

const tid = (id) => `[data-testid="${id}"]`;

export async function streamFallbackTest(browser, server) {
  const suffix = Date.now().toString(36).slice(-5);
  const carol = 'carol' + suffix;
  const dave = 'dave' + suffix;
  const pageC = await newPage(browser, 'carol');
  let killed = 0;
  await pageC.context().routeWebSocket(/\/ws$/, (ws) => { killed++; ws.close(); });
  const streams = [];
  pageC.on('request', (r) => { if (new URL(r.url()).pathname === '/sse') streams.push(r.url()); });
  const pageD = await newPage(browser, 'dave');

  log('carol signs up: her WebSockets are closed at once, the client falls back to /sse');
  await signUp(pageC, server.base, carol);
  assert(killed >= 2, `two WebSockets were tried first (${killed})`);
  assert(streams.length >= 1, 'the client opened an event stream');
  await signUp(pageD, server.base, dave);

  log('carol creates #bypass and invites dave; they chat both ways');
  await createChannel(pageC, 'bypass');
  await pageC.fill(tid('invite-user'), dave);
  await pageC.click(tid('invite-submit'));
  const item = pageD.locator(`${tid('channel-item')}[data-channel-name="bypass"]`);
  await item.waitFor({ timeout: 10000 });
  await item.click();
  await sendMessage(pageC, 'sent over the event stream');
  await message(pageC, 'sent over the event stream').waitFor();
  await message(pageD, 'sent over the event stream').waitFor();
  await sendMessage(pageD, 'and back over a websocket');
  await message(pageC, 'and back over a websocket').waitFor();
  await eventually(async () => (await pageC.getAttribute(tid('connection-status'), 'data-state')) === 'connected',
    'carol stays connected');
  assertEq(streams.length, 1, 'one event stream for the whole session');
  for (const p of [pageC, pageD]) assertEq(p.errors.length, 0, 'no page errors');
  const shot = path.join(artifacts, 'fallback.png');
  await pageC.screenshot({ path: shot });
  log('screenshot:', shot);
}
