// Real socket.io clients against the socketio transcoder, through the Go
// bridge of interop_test.go. VER=2 uses socket.io-client@2 (EIO=3), VER=4
// socket.io-client@4 (EIO=4); both with transports: ['websocket'].
// Prints "OK" and exits 0 when every check passed; exits 1 otherwise.
const io = require(process.env.VER === "2" ? "sio2" : "sio4");
const URL = process.env.URL;
const PING = Number(process.env.PING_MS);
const opts = { transports: ["websocket"], reconnection: false, forceNew: true };

const fail = (msg) => { console.log("FAIL " + msg); process.exit(1); };
setTimeout(() => fail("timeout"), 15000);
const eq = (a, b, what) => { if (JSON.stringify(a) !== JSON.stringify(b)) fail(what + ": " + JSON.stringify(a) + " != " + JSON.stringify(b)); };
const once = (s, ev) => new Promise((res) => s.once(ev, (...args) => res(args)));
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function main() {
  const s = io(URL, opts);
  s.on("disconnect", (r) => fail("disconnected: " + r));
  s.on("connect_error", (e) => fail("connect_error: " + e));
  await once(s, "connect");

  // An event a listener receives, echoed back, with an ack in each direction.
  const echoed = once(s, "echo");
  const acked = new Promise((res) => s.emit("echo", 1, "a", { b: [true] }, (...args) => res(args)));
  eq(await echoed, [1, "a", { b: [true] }], "echo event");
  eq(await acked, ["echo-ack", 1, "a", { b: [true] }], "ack from the server");

  s.on("question", (q, cb) => { eq(q, "q?", "question"); cb("answer", 42); });
  const got = once(s, "got-ack");
  s.emit("ask");
  eq(await got, ["answer", 42], "ack from the client");

  // A plain message sent by the server arrives as a "message" event.
  const plain = once(s, "message");
  s.emit("plain");
  eq(await plain, ["hello plain"], "plain message");

  // Another namespace on the same connection.
  const admin = io(URL + "/admin", opts);
  admin.on("connect_error", (e) => fail("admin connect_error: " + e));
  await once(admin, "connect");
  const aecho = once(admin, "echo");
  admin.emit("echo", "in admin");
  eq(await aecho, ["in admin"], "admin echo");

  // Survive the heartbeat for three ping intervals.
  await sleep(3 * PING + 200);
  if (!s.connected) fail("not connected after the heartbeat");
  s.off("disconnect");
  admin.close();
  s.close();
  console.log("OK");
  process.exit(0);
}
main().catch((e) => fail(String(e)));
