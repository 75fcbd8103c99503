// Package wsconn runs one accepted WebSocket connection: it reads and
// parses frames (wsproto), answers pings, runs the close handshake, queues
// and writes outgoing messages, and reports whole messages and the close to
// a Handler.
//
// # Goroutines and buffers
//
// A Conn has no goroutine of its own while it is idle. Reading is driven by
// a netpoll.Poller (epoll on Linux): a worker calls OnReadable with its own
// buffer, the Conn reads what is there, feeds the parser, and returns. Only
// a partial frame is kept between reads. Where no poller is available (TLS,
// other platforms) a goroutine per connection reads instead, with the same
// parsing path.
//
// Writing goes through a bounded queue. A writer goroutine is started when
// the first message is queued and exits when the queue is empty; it writes
// everything queued with one writev. A slow or dead peer blocks only its
// own writer, for at most the write timeout.
//
// # Close handshake
//
// Peer-initiated: the close frame is answered with the same code (1000 for
// an empty close) and the TCP connection is closed as soon as the answer is
// written, so the server drops TCP first as RFC 6455 prefers.
// Server-initiated (Close): pending messages are written, then the close
// frame, then the write side is shut (FIN); reading goes on until the peer's
// close frame or EOF, or until the close timeout. After a protocol error the
// rest of the input is discarded until EOF.
//
// # Callbacks
//
// Handler.OnMessage and Handler.OnClose run on the read path, one at a time
// per connection; OnClose runs exactly once and nothing runs after it.
// Message payloads are only valid during OnMessage.
package wsconn
