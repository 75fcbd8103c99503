// Drives the dev-mode demo page in Debian's chromium (playwright-core) as
// two users in two browser contexts. Usage:
//
//   node browser.mjs <base url> <admin url> <screenshot path>
//
// Asserted: both users log in and connect a plain WebSocket and a
// Socket.IO connection; a message sent to one user appears on both of that
// user's transports and nowhere on the other user's page; closing the
// user's session through the admin API shows both sockets closed. Prints
// one JSON line and exits 0 on success.
import { chromium } from 'playwright-core';

const [base, admin, shot] = process.argv.slice(2);
function fail(msg) {
  console.log(JSON.stringify({ ok: false, error: msg }));
  process.exit(1);
}
setTimeout(() => fail('timed out'), 60000).unref();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const steps = [];
try {
  async function open(user) {
    const ctx = await browser.newContext({ viewport: { width: 1000, height: 1100 } });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => fail(`${user}: page error ${e}`));
    await page.goto(base + '/');
    await page.fill('#user', user);
    await page.fill('#context', '1');
    await page.click('#login');
    await page.waitForFunction(() => document.getElementById('session').textContent.length > 10);
    await page.click('#connect-ws');
    await page.click('#connect-sio');
    await page.waitForSelector('#ws-status[data-state=open]', { timeout: 10000 });
    await page.waitForSelector('#sio-status[data-state=open]', { timeout: 10000 });
    const session = await page.textContent('#session');
    steps.push(`${user} logged in and connected both transports`);
    return { page, session };
  }
  const alice = await open('alice');
  const bob = await open('bob');

  // Bob's page sends to alice through the dev send endpoint (the admin API).
  await bob.page.fill('#to-user', 'alice');
  await bob.page.fill('#to-context', '1');
  await bob.page.fill('#message', 'only for alice');
  await bob.page.click('#send');
  await bob.page.waitForFunction(() => document.getElementById('send-result').textContent.startsWith('queued for 2 socket'));
  await alice.page.waitForFunction(() => {
    const lines = [...document.querySelectorAll('#log li')].map((li) => li.textContent);
    return lines.some((t) => t.includes('WebSocket') && t.includes('only for alice')) &&
      lines.some((t) => t.includes('Socket.IO') && t.includes('only for alice'));
  }, null, { timeout: 10000 });
  steps.push('alice received the message on WebSocket and Socket.IO');
  // A message to bob afterwards proves bob's page is live; alice's must not leak there.
  await alice.page.fill('#to-user', 'bob');
  await alice.page.fill('#message', 'hello bob');
  await alice.page.click('#send');
  await bob.page.waitForFunction(() => document.getElementById('log').textContent.includes('hello bob'), null, { timeout: 10000 });
  if (await bob.page.evaluate(() => document.getElementById('log').textContent.includes('only for alice'))) {
    fail("bob's page shows alice's message");
  }
  steps.push("bob's page shows only bob's message");

  // The backend closes alice's session: her page shows both sockets closed.
  const r = await fetch(`${admin}/api/v1/sessions/${encodeURIComponent(alice.session)}`, { method: 'DELETE' });
  if (r.status !== 200) fail('DELETE session answered ' + r.status);
  await alice.page.waitForSelector('#ws-status[data-state=closed]', { timeout: 10000 });
  await alice.page.waitForSelector('#sio-status[data-state=closed]', { timeout: 10000 });
  const wsStatus = await alice.page.textContent('#ws-status');
  if (!wsStatus.includes('4401')) fail('WebSocket status: ' + wsStatus);
  if (!(await bob.page.$('#ws-status[data-state=open]'))) fail("bob's socket closed too");
  steps.push(`alice's sockets closed after the session was invalidated (${wsStatus})`);
  await alice.page.screenshot({ path: shot, fullPage: true });
  steps.push('screenshot ' + shot);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ok: true, steps }));
process.exit(0);
