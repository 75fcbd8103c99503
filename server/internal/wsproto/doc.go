// Package wsproto is edgews's RFC 6455 (WebSocket) and RFC 7692
// (permessage-deflate) engine: the byte-level protocol, with no I/O and no
// goroutines of its own.
//
//   - Parser is a push parser for client-to-server frames. It is fed whatever
//     bytes a read returned, keeps only the state a partial frame needs (at
//     most a 14-byte header and the payload received so far), and reports
//     whole messages and control frames. A message that arrived as one frame
//     inside one read is handed out in place (unmasked in the read buffer)
//     without a copy. Every protocol violation is a *CloseError carrying the
//     close code to send (1002, 1007, 1009).
//   - UTF8 validates text streams incrementally, so an invalid byte is caught
//     in the fragment (or the TCP segment) where it arrives ("fail fast").
//   - AppendFrame/AppendClose write server frames (unmasked) and, for tests and
//     tools, client frames (masked).
//   - NegotiateDeflate implements the RFC 7692 offer/response rules, and
//     Deflater/Inflater compress and decompress messages with or without
//     context takeover, honouring server_max_window_bits.
//
// Why not fasthttp/websocket's Conn: it keeps a goroutine and read/write
// buffers per connection, validates no UTF-8, and negotiates compression only
// without context takeover. edgews needs idle sockets that hold no goroutine
// and no buffer, fail-fast UTF-8 checks, and full permessage-deflate, so the
// frame layer is its own and is driven by readiness notifications. See
// RATIONALE.md at the repository root.
package wsproto
