// Package bench is edgews's load tool and benchmark harness, run as
// `edgews bench MODE`. It starts the targets as separate processes on
// loopback, drives them from the same machine, and reports each target's
// figures beside a reference server measured in the same run, as ratios,
// with the machine and the exact command line (a table, or JSON with
// --json).
//
// # Targets
//
//   - edgews: the edgews binary itself (os.Executable, or --edgews-bin for
//     before/after comparisons) re-executed as `edgews serve --config FILE`
//     with a generated config: dev mode, log level warn, routes /echo
//     (echo), /echo-identity (echo through the identity WASM transcoder),
//     /socket.io/* (echo through the socketio transcoder) and /ws, pings
//     every 10 minutes (an idle bench socket has no reader to answer them;
//     for the same reason the socketio transcoder's heartbeat is set to 10
//     minutes — its timer is still armed per socket). The report's JSON
//     carries the generated file.
//   - reference: `edgews bench reference-server`, a bare fasthttp +
//     fasthttp/websocket server from the same module versions: the
//     FastHTTPUpgrader with default buffer sizes and the idiomatic
//     goroutine-per-connection echo loop (NextReader, NextWriter, io.Copy).
//     It upgrades any path without authentication and, for fan-out, serves
//     edgews's POST /api/v1/send/bulk body on its admin listener, writing
//     each message directly under the connection's write lock.
//
// Both run as their own processes so their RSS and CPU are theirs alone;
// the bench process raises its soft open-file limit to the hard limit
// (Go programs, the targets included, do the same at start).
//
// # Modes
//
// idle holds N authenticated sockets (default 19,000; the open-file limit
// here is 20,000 per process and both sides need N descriptors). Every
// socket does one 64 B echo. The figure is the server's RSS growth per
// socket, (VmRSS after − VmRSS before) / N from /proc/PID/status. "Before"
// is taken after the dev logins and a warm-up of 64 sockets (opened, echoed
// and closed) so that instance pools and buffers every server allocates
// once are not charged to the sockets; "after" is the last of samples taken
// over --settle (3 s): there is no way to force a GC in the target, and the
// Go runtime returns memory in the background. Each route gets a fresh
// target process.
//
// echo opens C connections per target (default 100, then 1,000), each
// keeping W messages of S bytes in flight (16 × 64 B text): it writes W
// stamped messages at once, and whenever replies arrive it reads every
// complete reply already buffered and writes as many new messages in one
// write, a closed loop in which the server sets the pace. Replies in the
// window after the warm-up count toward msgs/s and the latency histogram
// (p50, p99, p999 of send-to-echo). The targets' connections stay open side
// by side and the measurement runs in --slices turns (default 3) so a
// change in the shared machine's load hits all targets alike.
//
// fanout connects N users (default 19,000) with one socket each, then
// sends one message to every user per round through POST
// /api/v1/send/bulk (chunks of --batch requests, --senders chunks in
// parallel), each chunk stamped just before it is posted, and waits for
// every receipt. deliveries/s is messages received over the time from a
// round's first post to its last receipt, summed over rounds; latency is
// post-to-receipt. A target without the bulk endpoint (404) is driven with
// one POST /api/v1/send per user, and the report says so.
//
// handshake runs 32 workers in a loop: connect, upgrade, close handshake
// (the client sends close 1000 and waits for the server's close frame),
// close, in --slices turns like echo. It measures edgews with the dev verifier, edgews with the http
// verifier against a session backend inside the bench process (each
// worker's session is verified once before the measurement so the cache is
// warm; backend_calls shows how many checks the measurement still caused),
// and the reference. Upgrades/s and connect-to-101 latency.
//
// cluster starts three edgews nodes on 127.0.0.1, .2 and .3 (real
// processes, --cluster-bind/--cluster-join/--cluster-key, the jwt verifier
// with a shared HS256 secret). Each sender owns a user with one socket on
// node 2 and one on node 3 and posts POST /api/v1/send to node 1, so each
// message is delivered across two nodes. For every cluster.remote.delay
// setting (0 and the default; rewritten and reloaded with SIGHUP between
// settings) and size (100 B, 64 KiB) it measures latency with one sender
// that waits for both receipts before sending again, and throughput with
// --senders senders. The same-node delivery (sender and socket on node 1)
// is measured in the same run as the baseline: there is no reference
// server for a cluster. Then GET /api/v1/exists on node 1 for a user with
// sockets only on nodes 2 and 3 (positive) and for a user with none
// (negative); a negative answer that is not complete (the exists timeout
// passed) is counted as incomplete, a wrong answer as an error.
//
// # CPU time
//
// echo, fanout and handshake also report server_cpu: the target process's
// user plus system CPU time (/proc/PID/stat) per message, delivery or
// upgrade over the measurement, and client_cpu, the bench process's own.
// On a shared machine CPU time per operation is much steadier than
// operations per second, and it shows whether the client or the server is
// the limit. Kernel work for loopback TCP is charged to whichever process
// makes the syscall, so a server's write includes part of the receive
// path.
//
// # Socket.IO
//
// edgews echoes only on routes with echo: true, and the socketio
// transcoder turns an inbound event into listener JSON and an outbound text
// into an event. So on /socket.io the client speaks Engine.IO 4 /
// Socket.IO 5: it answers the open packet with 40, waits for the namespace
// connect, then sends 42["echo","<payload>"]; the transcoder delivers
// {"namespace":"/","event":"echo","args":["<payload>"]}, the echo route
// sends that JSON back, and the transcoder turns it into
// 42["echo","<payload>"] again. The transcoder is called twice per echo,
// like every message of a real Socket.IO application that answers. The
// reference receives the same frames and echoes them unchanged (no
// Engine.IO handshake), so the bytes on the wire match. In fan-out edgews
// turns the bulk-sent text into 42["message","<payload>"]; the reference
// is sent that frame ready-made.
//
// # The client
//
// The load generator uses its own small WebSocket client (wsclient.go): a
// net.Conn, a bufio.Reader it parses frames from without copying, frames
// batched into one write, masking eight bytes at a time, no extensions. It
// costs far less CPU per message than a general-purpose client, which
// matters because it shares the cores with the server, and it is the same
// client for every target. Client sockets are spread over source addresses
// 127.0.0.2 onwards (--sources, default 32) with IP_BIND_ADDRESS_NO_PORT,
// so ephemeral ports are per source address and destination and TIME_WAIT
// ports are reused on loopback; everything stays on 127.0.0.0/8.
//
// Every message carries its send time (16 hex digits of nanoseconds since
// the run started, monotonic clock) followed by 'x' to the requested size;
// the bench sends and receives, so latency needs no clock agreement.
// Latencies go into log-linear histograms (1.6% resolution, no allocation
// per sample).
//
// # Pitfalls
//
//   - Client and server share the machine's cores (two here, and other
//     people's work besides). A figure is only meaningful beside the
//     reference measured in the same run; never compare across runs or
//     machines. The report records the load average at the start.
//   - Loopback has no network cost: real deployments add latency and
//     bandwidth limits the figures do not show, and the kernel's loopback
//     path favours small writes less than a NIC would.
//   - RSS is resident memory, not heap: it includes the Go runtime's free
//     but not yet returned pages, and freed memory the runtime keeps for
//     reuse. It is read after the sockets settle; small socket counts make
//     it noisy (use thousands).
//   - When the client is the bottleneck (edgews's echo can outrun it),
//     msgs/s is a lower bound for the faster target: look at the ratio
//     together with the latencies.
//   - Every loop is bounded in count and time; a target that stops
//     answering makes the run fail with its log tail, not hang.
//
// The smoke test (smoke_test.go) runs every mode in a tiny configuration
// against real processes for correctness only; it asserts no timings.
package bench
