package server

import (
	"sync"
	"sync/atomic"

	"github.com/edgews/edgews/server/internal/wsconn"
)

// closeCauses are the reasons a socket ends, as counted in metrics and
// stats. wsconn reports the protocol-level ones; the server adds its own.
var closeCauses = []string{
	"peer",                // the browser closed (close frame)
	"eof",                 // the connection dropped without a close frame
	"read_error",          // reading failed
	"write_error",         // writing failed
	"write_timeout",       // a write blocked longer than limits.write_timeout
	"protocol_error",      // the browser broke the protocol (1002, 1007, 1009)
	"ping_timeout",        // no answer to a ping within limits.pong_timeout
	"read_timeout",        // a message did not complete within limits.read_timeout
	"close_timeout",       // no close frame back within limits.close_timeout
	"slow_consumer",       // the outbound queue overflowed
	"control_flood",       // too many pings/pongs per second
	"partial_budget",      // the node's budget for partly received messages was spent (1013)
	"session_expired",     // the session's expiry passed
	"session_invalidated", // DELETE /api/v1/sessions/{id}
	"session_revoked",     // periodic re-verification said the session is gone
	"disabled",            // the cascade now disables this user
	"user_limit",          // replaced by a newer socket (limits.on_user_limit: close_oldest)
	"drain",               // the server is shutting down
	"transcoder",          // the transcoder failed or closed the socket
	"server",              // closed through the Go API
	"other",
}

// rejectReasons are the reasons an upgrade is refused.
var rejectReasons = []string{
	"not_websocket",        // 426: not an upgrade request
	"bad_handshake",        // 400: malformed upgrade
	"bad_version",          // 426: not WebSocket version 13
	"origin",               // 403: Origin not allowed
	"no_session",           // 401: no session in the request
	"unauthenticated",      // 401: the verifier refused the session
	"verifier_unavailable", // 503: the verifier could not decide
	"disabled",             // 403: the cascade disables the user
	"user_limit",           // 429: too many sockets for the user
	"capacity",             // 503: limits.max_sockets reached
	"subprotocol",          // 400: no acceptable subprotocol
	"ip_rate",              // 429: the client IP upgrades too fast
	"ip_limit",             // 429: the client IP holds its maximum of sockets
	"ip_pending",           // 429: the client IP holds its maximum of unfinished connections
	"header_too_large",     // 431: the request header is over limits.max_header_bytes
	"handshake_timeout",    // 408: the request was not finished within limits.handshake_timeout
	"bad_request",          // 400: fasthttp could not parse the request
	"draining",             // 503: shutting down
}

// routeStats are the counters of one route path; they survive reloads.
type routeStats struct {
	path    string
	conn    wsconn.Stats
	sockets atomic.Int64
	opened  atomic.Uint64
	closed  map[string]*atomic.Uint64
}

func newRouteStats(path string) *routeStats {
	rs := &routeStats{path: path, closed: make(map[string]*atomic.Uint64, len(closeCauses))}
	for _, c := range closeCauses {
		rs.closed[c] = new(atomic.Uint64)
	}
	return rs
}

func (rs *routeStats) countClose(cause string) {
	c, ok := rs.closed[cause]
	if !ok {
		c = rs.closed["other"]
	}
	c.Add(1)
}

// statsBook holds every route's stats and the upgrade rejections.
type statsBook struct {
	mu       sync.Mutex
	routes   map[string]*routeStats
	order    []string
	rejected map[string]*atomic.Uint64
}

func newStatsBook() *statsBook {
	b := &statsBook{routes: map[string]*routeStats{}, rejected: map[string]*atomic.Uint64{}}
	for _, r := range rejectReasons {
		b.rejected[r] = new(atomic.Uint64)
	}
	return b
}

func (b *statsBook) route(path string) *routeStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	rs, ok := b.routes[path]
	if !ok {
		rs = newRouteStats(path)
		b.routes[path] = rs
		b.order = append(b.order, path)
	}
	return rs
}

func (b *statsBook) allRoutes() []*routeStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*routeStats, 0, len(b.order))
	for _, p := range b.order {
		out = append(out, b.routes[p])
	}
	return out
}
