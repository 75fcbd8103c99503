// Package server is the embeddable edgews server: WebSocket upgrades on
// fasthttp authenticated by a pluggable session verifier, a registry of
// sockets bound to their session's user and context, the socket service
// (exists, send, close-session, stats) as a Go API and as an admin HTTP
// API, listeners (including a webhook), the enabled cascade, keep-alive and
// limits, Prometheus metrics, reload and drain.
//
// # Life of a socket
//
//  1. fasthttp parses the upgrade request; the route is chosen by path.
//  2. Checks, in order, each with its own status and counted reason: an
//     upgrade at all (426), GET, version 13 and a valid key (400/426),
//     Origin (403), node capacity (503), the session (401, or 503 when the
//     verifier cannot decide), the cascade (403), the per-user limit (429),
//     a required subprotocol (400).
//  3. The 101 is written and the connection hijacked; from then on the
//     socket engine (internal/wsconn) drives it with epoll, holding no
//     goroutine or buffer while it is idle.
//  4. The socket is registered under its user and session, the route's
//     transcoder opens it, listeners get OnConnect.
//  5. Messages: transcoder inbound, then listeners' OnMessage (and echo).
//     Sends: transcoder outbound, then the socket's bounded queue.
//  6. It ends by the browser, by the server (session expiry, invalidation,
//     re-verification, cascade, limits, drain), or by failure; listeners get
//     OnClose once. Close codes are listed in docs/close-codes.md.
//
// # Goroutines
//
// fasthttp goroutines handle upgrades (and verification); epoll workers
// handle reads and run the transcoder and listeners; each socket has a
// writer goroutine only while it has something to write; one sweeper
// goroutine enforces every timer (pings, timeouts, session expiry,
// re-verification); the admin API has its own fasthttp server.
package server
