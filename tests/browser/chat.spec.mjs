// Browser test of the web client (web/app.js): two users in two browser contexts sign up,
// one creates a channel and invites the other, they chat both ways; the unread and mention
// badges rise on the other user's channel list while they view another channel and clear
// when they open it; the typing indicator appears on the other side; a thread reply, a
// reaction and an edit reach the other side. Selectors are the data-testids listed at the
// top of web/app.js.
import path from 'node:path';
import { artifacts, assert, assertEq, eventually, log, newPage } from './lib.mjs';

const tid = (id) => `[data-testid="${id}"]`;
const channelItem = (name) => `${tid('channel-item')}[data-channel-name="${name}"]`;

/// Signs up `name` through the login form and waits for the gateway's `ready`.
export async function signUp(page, base, name) {
  await page.goto(base + '/');
  await page.locator(tid('login-form')).waitFor({ state: 'visible' });
  await page.fill(tid('login-name'), name);
  await page.fill(tid('login-password'), 'correct horse battery');
  await page.click(tid('signup-submit'));
  await page.locator(`${tid('connection-status')}[data-state="connected"]`).waitFor({ timeout: 15000 });
  assertEq(await page.textContent(tid('me-name')), name, 'name shown after sign-up');
}

export async function createChannel(page, name) {
  await page.locator('summary', { hasText: 'New channel' }).click();
  await page.fill(tid('new-channel-name'), name);
  await page.click(tid('new-channel-submit'));
  const item = page.locator(channelItem(name));
  await item.waitFor();
  await eventually(async () => (await item.getAttribute('class')).includes('active'), `#${name} opened`);
  return item.getAttribute('data-channel-id');
}

export async function sendMessage(page, text) {
  await page.fill(tid('composer-input'), text);
  await page.press(tid('composer-input'), 'Enter');
}

/// The acked message (not pending) with exactly this text, in the main list.
export function message(page, text) {
  return page.locator(`${tid('message-list')} ${tid('message')}:not([data-pending])`, {
    has: page.locator(tid('message-text'), { hasText: new RegExp('^' + text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$') }),
  });
}

async function badge(page, channelName, which) {
  const b = page.locator(`${channelItem(channelName)} ${tid(which)}`);
  if (await b.count() === 0 || await b.isHidden()) return 0;
  return Number(await b.textContent());
}

/// What the server answers to `frame` (sent with req "probe") on a probe connection of this
/// page's user: the answering frame (`ok`, `error`, ...) or null if nothing came in 2 s.
async function probe(page, frame) {
  return page.evaluate(async (frame) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    const done = (v) => { try { ws.close(1000); } catch (_) {} resolve(v); };
    setTimeout(() => done(null), 5000);
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      if (f.op === 'hello') ws.send(JSON.stringify({ op: 'identify', token: sessionStorage.getItem('sb.token') }));
      if (f.op === 'ready') {
        ws.send(JSON.stringify({ ...frame, req: 'probe' }));
        setTimeout(() => done(null), 2000);
      }
      if (f.req === 'probe') done(f);
    };
  }), frame);
}

/// Whether the server implements `typing`: one for a channel that does not exist is an
/// error (`not_found` or `forbidden`) there, `unknown_op` or silence elsewhere (checked
/// first, so a server without it fails with a clear message rather than a timeout).
async function serverHasTyping(page) {
  const f = await probe(page, { op: 'typing', channel: '987654321987654321' });
  return !!f && f.op === 'error' && f.code !== 'unknown_op';
}

/// Whether the server implements `presence` (answered with `ok`).
async function serverHasPresence(page) {
  const f = await probe(page, { op: 'presence', status: 'online' });
  return !!f && f.op === 'ok';
}

/// Runs the chat scenario; returns what the admin test continues with.
export async function chatTest(browser, server) {
  const suffix = Date.now().toString(36).slice(-5);
  const alice = 'alice' + suffix;
  const bob = 'bob' + suffix;
  const pageA = await newPage(browser, 'alice');
  const pageB = await newPage(browser, 'bob');

  log('sign up both users');
  await signUp(pageA, server.base, alice);
  await signUp(pageB, server.base, bob);

  log('bob opens a channel of his own; alice creates #team and invites bob');
  await createChannel(pageB, 'notes');
  const teamId = await createChannel(pageA, 'team');
  assert(/^[1-9]\d*$/.test(teamId), 'channel id is a decimal string: ' + teamId);
  await pageA.fill(tid('invite-user'), bob);
  await pageA.click(tid('invite-submit'));
  await pageB.locator(channelItem('team')).waitFor({ timeout: 10000 });
  assert((await pageB.getAttribute(channelItem('notes'), 'class')).includes('active'), 'bob still views #notes');

  log('alice writes; bob (viewing #notes) gets unread and mention badges on #team');
  await sendMessage(pageA, 'hello bob');
  await message(pageA, 'hello bob').waitFor();
  await eventually(async () => (await badge(pageB, 'team', 'channel-unread')) === 1, 'unread badge 1 on bob\'s #team');
  assertEq(await badge(pageB, 'team', 'channel-mentions'), 0, 'no mention yet');
  await sendMessage(pageA, 'ping @here');
  await eventually(async () => (await badge(pageB, 'team', 'channel-unread')) === 2, 'unread badge 2 on bob\'s #team');
  await eventually(async () => (await badge(pageB, 'team', 'channel-mentions')) === 1, 'mention badge 1 on bob\'s #team');
  assertEq(await badge(pageB, 'notes', 'channel-unread'), 0, '#notes has nothing unread');

  log('bob opens #team: he sees the messages and the badges clear');
  await pageB.click(channelItem('team'));
  await message(pageB, 'hello bob').waitFor();
  await message(pageB, 'ping @here').waitFor();
  await eventually(async () => (await badge(pageB, 'team', 'channel-unread')) === 0
    && (await badge(pageB, 'team', 'channel-mentions')) === 0, 'badges cleared after opening #team');
  assertEq(await pageB.getAttribute(`${tid('message-list')} ${tid('message')}:not([data-pending])`, 'data-channel-id'),
    teamId, 'messages carry the channel id');

  log('typing indicator');
  assert(await serverHasTyping(pageB), 'the server implements `typing` (docs/protocol.md, "Typing")');
  await pageA.locator(tid('composer-input')).pressSequentially('I am typ', { delay: 30 });
  await eventually(async () => (await pageB.textContent(tid('typing-indicator'))).includes(alice + ' is typing'),
    'typing indicator on bob\'s side', 6000);
  await pageA.fill(tid('composer-input'), '');
  // Expires after expires_ms (5 s) without renewal.
  await eventually(async () => (await pageB.textContent(tid('typing-indicator'))) === '',
    'typing indicator expires', 9000);

  log('presence: bob sets dnd with a custom text; alice sees his dot change');
  assert(await serverHasPresence(pageB), 'the server implements `presence` (docs/protocol.md, "Presence")');
  const bobId = await pageA.evaluate(async (name) => {
    const r = await fetch('/api/users?name=' + encodeURIComponent(name), { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('sb.token') } });
    return (await r.json()).user.id;
  }, bob);
  await pageB.selectOption(tid('status-select'), 'dnd');
  await pageB.fill(tid('status-custom'), 'in a meeting');
  await pageB.click(tid('status-save'));
  await eventually(async () => (await pageB.getAttribute(tid('my-presence-dot'), 'data-status')) === 'dnd', 'bob\'s own dot is dnd');
  // Alice sees bob's status on the next batch (1 s) wherever his dot is shown.
  await sendMessage(pageB, 'status set');
  await message(pageA, 'status set').waitFor();
  await eventually(async () => (await message(pageA, 'status set').locator(tid('presence-dot')).getAttribute('data-status')) === 'dnd',
    `bob (${bobId}) shows as dnd on alice's side`, 8000);
  assert((await message(pageA, 'status set').locator(tid('presence-dot')).getAttribute('title')).includes('in a meeting'),
    'the custom text is shown with the dot');
  await pageB.selectOption(tid('status-select'), 'online');
  await pageB.fill(tid('status-custom'), '');
  await pageB.click(tid('status-save'));

  log('bob answers; alice sees it');
  await sendMessage(pageB, 'hi alice');
  await message(pageA, 'hi alice').waitFor();

  log('thread: bob replies in the thread of "hello bob"; alice sees the reply count');
  await message(pageB, 'hello bob').hover();
  await message(pageB, 'hello bob').locator(tid('message-thread')).click();
  await pageB.locator(tid('thread-panel')).waitFor();
  await pageB.fill(tid('thread-input'), 'a thread reply');
  await pageB.press(tid('thread-input'), 'Enter');
  await pageB.locator(`${tid('thread-messages')} ${tid('message')}:not([data-pending])`, { hasText: 'a thread reply' }).waitFor();
  await eventually(async () => (await message(pageA, 'hello bob').locator(tid('message-thread')).getAttribute('data-replies')) === '1',
    'reply count 1 on alice\'s side');
  assertEq(await message(pageA, 'a thread reply').count(), 0, 'replies stay out of the main list');

  log('reaction and edit reach the other side');
  await message(pageA, 'hi alice').hover();
  await message(pageA, 'hi alice').locator(tid('message-react')).click();
  await message(pageA, 'hi alice').locator(`${tid('react-choice')}[data-emoji="👍"]`).click();
  await eventually(async () => (await message(pageB, 'hi alice').locator(`${tid('reaction')}[data-emoji="👍"]`).count()) === 1,
    'reaction on bob\'s side');
  await message(pageA, 'ping @here').hover();
  await message(pageA, 'ping @here').locator(tid('message-edit')).click();
  await pageA.fill(tid('message-edit-input'), 'ping @here, edited');
  await pageA.press(tid('message-edit-input'), 'Enter');
  await eventually(async () => (await message(pageB, 'ping @here, edited').count()) === 1, 'edit on bob\'s side');
  assertEq(await message(pageB, 'ping @here, edited').locator(tid('message-edited')).count(), 1, '(edited) mark');

  for (const p of [pageA, pageB]) assertEq(p.errors.length, 0, 'no page errors');
  const shot = path.join(artifacts, 'chat.png');
  await pageB.screenshot({ path: shot });
  const shotA = path.join(artifacts, 'chat-alice.png');
  await pageA.screenshot({ path: shotA });
  log('screenshots:', shot, shotA);
  return { pageA, pageB, teamId, alice, bob };
}

/// Reconnect and resume: the server restarts (close 1012) while bob's browser is offline;
/// alice reconnects and writes; when bob comes back his client resumes from the last seq it
/// holds and gets the message exactly once (dedupe by channel and seq), with its badge.
export async function resumeTest(browser, server, chat) {
  const { pageA, pageB } = chat;
  await pageB.click(channelItem('notes'));
  const before = await badge(pageB, 'team', 'channel-unread');
  assertEq(before, 0, 'nothing unread on #team before the restart');
  await server.restart(async () => {
    await pageB.context().setOffline(true);
    for (const p of [pageA, pageB]) {
      await p.locator(`${tid('connection-status')}[data-state="reconnecting"]`).waitFor({ timeout: 10000 });
    }
  });
  await pageA.locator(`${tid('connection-status')}[data-state="connected"]`).waitFor({ timeout: 30000 });
  await pageA.click(channelItem('team'));
  await sendMessage(pageA, 'while you were away');
  await message(pageA, 'while you were away').waitFor({ timeout: 10000 });
  assertEq(await pageB.getAttribute(tid('connection-status'), 'data-state'), 'reconnecting', 'bob is still offline');
  await pageB.context().setOffline(false);
  await pageB.locator(`${tid('connection-status')}[data-state="connected"]`).waitFor({ timeout: 30000 });
  await eventually(async () => (await badge(pageB, 'team', 'channel-unread')) === 1, 'unread badge 1 after resume', 10000);
  await pageB.click(channelItem('team'));
  await message(pageB, 'while you were away').waitFor();
  for (const text of ['hello bob', 'hi alice', 'while you were away']) {
    assertEq(await message(pageB, text).count(), 1, `"${text}" shown once on bob's side`);
  }
  assertEq(await message(pageA, 'hi alice').count(), 1, 'no duplicates on alice\'s side');
  // And live again, both ways.
  await sendMessage(pageB, 'back online');
  await message(pageA, 'back online').waitFor();
}

/// DMs by user name (a DM message is a mention for its members) and history that scrolls
/// back: 70 messages posted over HTTP, the newest 50 shown, the rest loaded with `before`.
export async function dmAndHistoryTest(browser, server, chat) {
  const { pageA, pageB, alice, bob } = chat;
  await pageB.click(channelItem('notes'));
  await pageA.locator('summary', { hasText: 'Direct message' }).click();
  await pageA.fill(tid('dm-user'), bob);
  await pageA.click(tid('dm-submit'));
  const dmA = pageA.locator(`${tid('dm-list')} ${tid('channel-item')}`);
  await dmA.waitFor();
  await eventually(async () => (await dmA.getAttribute('class')).includes('active'), 'DM opened on alice\'s side');
  assertEq((await dmA.locator(tid('channel-name')).textContent()), bob, 'DM named after the other member');
  await sendMessage(pageA, 'a direct word');
  const dmB = pageB.locator(`${tid('dm-list')} ${tid('channel-item')}`);
  await dmB.waitFor();
  await eventually(async () => (await dmB.locator(tid('channel-name')).textContent()) === alice, 'DM on bob\'s side');
  await eventually(async () => {
    const u = dmB.locator(tid('channel-unread'));
    const m = dmB.locator(tid('channel-mentions'));
    return (await u.isVisible()) && (await u.textContent()) === '1' && (await m.textContent()) === '1';
  }, 'DM unread and mention badges on bob\'s side');
  await dmB.click();
  await message(pageB, 'a direct word').waitFor();

  // History: 70 messages over HTTP, then a fresh page load of alice's client.
  const token = await pageA.evaluate(() => sessionStorage.getItem('sb.token'));
  const hdr = { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' };
  const created = await (await fetch(server.base + '/api/channels', { method: 'POST', headers: hdr, body: JSON.stringify({ name: 'history', kind: 'public' }) })).json();
  const hid = created.channel.id;
  for (let i = 1; i <= 70; i++) {
    const r = await fetch(`${server.base}/api/channels/${hid}/messages`, { method: 'POST', headers: hdr, body: JSON.stringify({ text: 'old message ' + i, nonce: 'h' + i }) });
    assertEq(r.status, 201, 'HTTP send ' + i);
  }
  await pageA.reload();
  await pageA.locator(`${tid('connection-status')}[data-state="connected"]`).waitFor({ timeout: 15000 });
  await pageA.click(channelItem('history'));
  await message(pageA, 'old message 70').waitFor();
  assertEq(await message(pageA, 'old message 1').count(), 0, 'the oldest are not loaded yet');
  const older = pageA.locator(tid('load-older'));
  await older.waitFor({ state: 'visible' });
  // Scrolling to the top loads the previous page (history `before`).
  await pageA.locator(tid('message-scroll')).evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
  await message(pageA, 'old message 1').waitFor({ timeout: 10000 });
  await eventually(async () => !(await older.isVisible()), 'no more history after the first message');
  const n = await pageA.locator(`${tid('message-list')} ${tid('message')}`, { hasText: 'old message' }).count();
  assertEq(n, 70, 'all 70 messages, each once');
}
