// Drives a real socket.io client (v2 = Engine.IO 3, or v4 = Engine.IO 4)
// against edgews's /socket.io/ route. Usage:
//
//   node sio.mjs <2|4> <ws base url> <session> <admin url> <events url> <user> <context> <ping interval ms>
//
// The Go test runs edgews with a webhook pointed at its own receiver;
// <events url> returns what that receiver got, so this script can check
// what edgews's listeners saw. Prints one JSON line and exits 0 on success.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [version, base, session, admin, eventsURL, user, context, pingMs] = process.argv.slice(2);
const io = require(version === '2' ? 'sio2' : 'sio4');
const interval = Number(pingMs);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function fail(msg) {
  console.log(JSON.stringify({ ok: false, version, error: msg }));
  process.exit(1);
}
setTimeout(() => fail('timed out'), 30000).unref();

async function send(message) {
  const r = await fetch(admin + '/api/v1/send', {
    method: 'POST',
    body: JSON.stringify({ context, user, path: '/socket.io/*', message }),
  });
  if (r.status !== 202) fail(`send answered ${r.status}: ${await r.text()}`);
  return r.json();
}

// waitEvent polls the webhook receiver for a message event whose decoded
// listener JSON satisfies pred.
async function waitEvent(pred) {
  for (let i = 0; i < 200; i++) {
    const events = await (await fetch(eventsURL)).json();
    for (const e of events) {
      if (e.type !== 'message' || e.user !== user || typeof e.message !== 'string') continue;
      let m;
      try { m = JSON.parse(e.message); } catch { continue; }
      if (pred(m)) return m;
    }
    await sleep(25);
  }
  fail('listener never saw the expected event');
}

const url = base + '/';
const opts = { transports: ['websocket'], query: { session }, forceNew: true, reconnection: false };
const socket = io(url, opts);
await new Promise((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('connect_error', (e) => reject(new Error('connect_error: ' + e)));
  socket.once('error', (e) => reject(new Error('error: ' + e)));
}).catch((e) => fail(String(e)));
let disconnected = null;
socket.on('disconnect', (reason) => { disconnected = reason; });
const result = { ok: true, version, steps: [] };

// 1. POST /api/v1/send with plain text reaches the client as a "message" event.
const got = new Promise((r) => socket.once('message', r));
await send('hello from the backend');
if ((await got) !== 'hello from the backend') fail('wrong message event');
result.steps.push('admin send -> message event');

// 2. An event the client emits reaches edgews's listeners as JSON.
socket.emit('greet', { n: 1 }, 'two');
const greet = await waitEvent((m) => m.event === 'greet');
if (greet.namespace !== '/' || JSON.stringify(greet.args) !== JSON.stringify([{ n: 1 }, 'two'])) fail('greet args ' + JSON.stringify(greet));
result.steps.push('client emit -> listener');

// 3. Ack round trip client -> backend -> client.
const answered = new Promise((r) => socket.emit('ask', 'what?', r));
const ask = await waitEvent((m) => m.event === 'ask');
if (typeof ask.ack !== 'number') fail('ask without ack id: ' + JSON.stringify(ask));
await send(JSON.stringify({ namespace: '/', ack: ask.ack, args: ['an answer'] }));
if ((await answered) !== 'an answer') fail('ack callback got the wrong value');
result.steps.push('client ack request -> backend answer');

// 4. Ack round trip backend -> client -> backend.
socket.on('question', (x, cb) => cb('reply to ' + x));
await send(JSON.stringify({ namespace: '/', event: 'question', args: [42], ack: 7 }));
await waitEvent((m) => m.ack === 7 && m.event === undefined && m.args && m.args[0] === 'reply to 42');
result.steps.push('backend ack request -> client answer');

// 5. A second namespace on its own connection.
const chat = io(url + 'chat', opts);
await new Promise((r, j) => { chat.once('connect', r); chat.once('connect_error', j); }).catch((e) => fail('chat: ' + e));
chat.emit('hi', 'chat');
await waitEvent((m) => m.event === 'hi' && m.namespace === '/chat');
chat.close();
result.steps.push('second namespace');

// 6. The heartbeat keeps the connection through three ping intervals.
await sleep(3 * interval + 200);
if (!socket.connected || disconnected) fail('disconnected during heartbeat: ' + disconnected);
const again = new Promise((r) => socket.once('message', r));
await send('still alive');
if ((await again) !== 'still alive') fail('no message after the heartbeat');
result.steps.push(`survived ${3 * interval + 200} ms of heartbeats`);

socket.close();
console.log(JSON.stringify(result));
process.exit(0);
