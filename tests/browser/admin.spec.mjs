// Browser test of the admin console (web/admin/): log in with the admin token, find the chat
// test's channel actor by its id, open its detail, stop it (accepting the confirm() dialog),
// see its restart count rise, and check the chat still works (a message sent afterwards
// arrives on the other side). Selectors are the data-testids listed at the top of
// web/admin/admin.js.
import path from 'node:path';
import { artifacts, assert, assertEq, eventually, log, newPage } from './lib.mjs';
import { message, sendMessage } from './chat.spec.mjs';

const tid = (id) => `[data-testid="${id}"]`;
const channelItem = (name) => `${tid('channel-item')}[data-channel-name="${name}"]`;

export async function adminTest(browser, server, chat) {
  const { pageA, pageB, teamId } = chat;
  // The channel actor runs while it is in use: both users open #team and say something.
  await pageA.click(channelItem('team'));
  await pageB.click(channelItem('team'));
  await sendMessage(pageA, 'before the stop');
  await message(pageB, 'before the stop').waitFor();

  const page = await newPage(browser, 'admin');
  await page.goto(server.base + '/admin');
  assert(page.url().endsWith('/admin/'), '/admin redirects to /admin/: ' + page.url());
  await page.locator(tid('login')).waitFor({ state: 'visible' });
  await page.fill(tid('token-input'), server.adminToken);
  await page.click(tid('login-button'));
  await page.locator(tid('console')).waitFor({ state: 'visible' });

  log(`admin: search for channel ${teamId}`);
  await page.fill(tid('search'), teamId);
  const hit = page.locator(`${tid('search-result')}[data-kind="channel"][data-key="${teamId}"]`);
  await hit.waitFor({ timeout: 10000 });
  await hit.click();
  const restarts = page.locator(`${tid('actor-detail')} ${tid('restarts')}`);
  await restarts.waitFor();
  const before = Number(await restarts.textContent());
  assert(Number.isInteger(before), 'restart count is a number: ' + before);

  log(`admin: stop the channel (restarts ${before}), accepting the confirm() dialog`);
  let dialogs = 0;
  page.once('dialog', async (d) => {
    dialogs++;
    assertEq(d.type(), 'confirm', 'a confirm() dialog');
    await d.accept();
  });
  await page.click(`${tid('actor-detail')} ${tid('stop-button')}`);
  await eventually(async () => Number(await restarts.textContent()) > before,
    'the restart count rises after the stop', 15000, 200);
  assertEq(dialogs, 1, 'one confirm() dialog');
  const after = Number(await restarts.textContent());
  log(`admin: restarts ${before} -> ${after}; state ${await page.textContent(`${tid('actor-detail')} ${tid('actor-state')}`)}`);

  log('chat still works after the restart of its channel actor');
  await sendMessage(pageA, 'after the stop');
  await message(pageB, 'after the stop').waitFor({ timeout: 15000 });
  await sendMessage(pageB, 'still here');
  await message(pageA, 'still here').waitFor({ timeout: 15000 });
  assertEq(await message(pageB, 'after the stop').count(), 1, 'delivered once');

  assertEq(page.errors.length, 0, 'no page errors in the console');
  const shot = path.join(artifacts, 'admin-console.png');
  await page.screenshot({ path: shot, fullPage: true });
  const chatShot = path.join(artifacts, 'chat-after-stop.png');
  await pageB.screenshot({ path: chatShot });
  log('screenshots:', shot, chatShot);
}
