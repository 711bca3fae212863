// Browser test of the admin console (web/admin/): placeholder until the console exists.
import { log } from './lib.mjs';

export async function adminTest(browser, server) {
  const r = await fetch(server.base + '/admin/');
  if (r.status === 404) {
    log('SKIP admin console: web/admin/ is not there yet');
    return;
  }
  throw new Error('admin console test not written yet');
}
