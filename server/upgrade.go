package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgews/edgews/server/internal/wsconn"
	"github.com/edgews/edgews/server/internal/wsproto"
	"github.com/edgews/edgews/server/pathfilter"
	"github.com/edgews/edgews/server/session"
)

// handleHTTP is the fasthttp handler of the browser-facing listener.
func (s *Server) handleHTTP(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if s.dev != nil && s.handleDev(ctx, path) {
		return
	}
	rt := s.routes.Load().match(path)
	if rt == nil {
		ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		fmt.Fprintf(ctx, "404 Not Found: no WebSocket route at %s\n", path)
		return
	}
	s.upgrade(ctx, rt)
}

// httpParseError answers requests fasthttp could not read on the browser
// listener (fasthttp's ErrorHandler): an oversized header (431), a request
// not finished within limits.handshake_timeout (408), anything else
// malformed (400). Each is counted and logged like other refusals.
func (s *Server) httpParseError(ctx *fasthttp.RequestCtx, err error) {
	status, reason, msg := fasthttp.StatusBadRequest, "bad_request", "the request could not be parsed"
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		status, reason, msg = fasthttp.StatusRequestHeaderFieldsTooLarge, "header_too_large",
			fmt.Sprintf("the request header is larger than limits.max_header_bytes (%s)", s.cfg.Load().Limits.MaxHeaderBytes)
	case errors.As(err, &ne) && ne.Timeout():
		status, reason, msg = fasthttp.StatusRequestTimeout, "handshake_timeout", "the request was not finished within limits.handshake_timeout"
	}
	s.reject(ctx, status, reason, msg, slog.String("error", err.Error()))
	ctx.SetConnectionClose()
}

// reject answers an upgrade with status and a body that says why, counts
// the reason and logs it (rate-limited).
func (s *Server) reject(ctx *fasthttp.RequestCtx, status int, reason, msg string, attrs ...slog.Attr) {
	if c, ok := s.book.rejected[reason]; ok {
		c.Add(1)
	}
	if s.rejectLog.allow() {
		base := []slog.Attr{
			slog.String("reason", reason),
			slog.Int("status", status),
			slog.String("detail", msg),
			slog.String("path", string(ctx.Path())),
			slog.String("remote", ctx.RemoteAddr().String()),
		}
		if n := s.rejectLog.takeSuppressed(); n > 0 {
			base = append(base, slog.Uint64("suppressed_since_last", n))
		}
		s.log.LogAttrs(context.Background(), slog.LevelInfo, "upgrade rejected", append(base, attrs...)...)
	}
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.Set("X-Edgews-Reject", reason)
	ctx.SetStatusCode(status)
	fmt.Fprintf(ctx, "%d %s: %s\n", status, http.StatusText(status), msg)
}

func (s *Server) upgrade(ctx *fasthttp.RequestCtx, rt *route) {
	h := &ctx.Request.Header
	if s.draining.Load() {
		s.reject(ctx, fasthttp.StatusServiceUnavailable, "draining", "the server is shutting down; reconnect")
		return
	}
	cfg := s.cfg.Load()
	ip := hostOf(ctx.RemoteAddr().String())
	if !s.ips.allowUpgrade(ip, cfg.Limits.UpgradeRatePerIP, cfg.Limits.UpgradeBurstPerIP, time.Now()) {
		ctx.Response.Header.Set("Retry-After", "1")
		s.reject(ctx, fasthttp.StatusTooManyRequests, "ip_rate", "too many upgrades from this address; slow down")
		return
	}
	if !wsproto.HeaderHasToken(string(h.Peek("Connection")), "upgrade") || !strings.EqualFold(strings.TrimSpace(string(h.Peek("Upgrade"))), "websocket") {
		ctx.Response.Header.Set("Upgrade", "websocket")
		ctx.Response.Header.Set("Connection", "Upgrade")
		s.reject(ctx, fasthttp.StatusUpgradeRequired, "not_websocket",
			fmt.Sprintf("%s is a WebSocket endpoint: connect with a WebSocket client (GET with Upgrade: websocket and Connection: Upgrade)", rt.filter))
		return
	}
	if !ctx.IsGet() {
		s.reject(ctx, fasthttp.StatusBadRequest, "bad_handshake", "a WebSocket upgrade must use GET")
		return
	}
	if v := strings.TrimSpace(string(h.Peek("Sec-WebSocket-Version"))); v != "13" {
		ctx.Response.Header.Set("Sec-WebSocket-Version", "13")
		s.reject(ctx, fasthttp.StatusUpgradeRequired, "bad_version", fmt.Sprintf("WebSocket version %q is not supported; use 13", v))
		return
	}
	key := strings.TrimSpace(string(h.Peek("Sec-WebSocket-Key")))
	if !wsproto.ValidKey(key) {
		s.reject(ctx, fasthttp.StatusBadRequest, "bad_handshake", "Sec-WebSocket-Key must be 16 base64-encoded bytes")
		return
	}
	origin := string(h.Peek("Origin"))
	if !rt.origins.allow(origin, string(h.Host())) {
		s.reject(ctx, fasthttp.StatusForbidden, "origin", fmt.Sprintf("origin %q may not open sockets here", origin))
		return
	}
	if max := cfg.Limits.MaxSocketsPerIP; max > 0 && s.ips.sockets(ip) >= max {
		s.reject(ctx, fasthttp.StatusTooManyRequests, "ip_limit", fmt.Sprintf("this address already holds %d sockets, the most allowed", max))
		return
	}
	if max := cfg.Limits.MaxSockets; max > 0 && s.slots.Load() >= int64(max) {
		s.reject(ctx, fasthttp.StatusServiceUnavailable, "capacity", "this node holds its maximum number of sockets; retry later or elsewhere")
		return
	}

	req := s.sessionRequest(ctx, cfg)
	vctx, cancel := context.WithTimeout(s.ctx, cfg.Session.VerifyTimeout)
	start := time.Now()
	sess, err := s.verifier().Verify(vctx, req)
	cancel()
	s.metrics.observeVerify(time.Since(start), err)
	switch {
	case err == nil && (sess == nil || sess.ID == "" || sess.User == "" || sess.Context == ""):
		s.reject(ctx, fasthttp.StatusServiceUnavailable, "verifier_unavailable", "the session could not be verified right now; retry later",
			slog.String("error", "the verifier returned a session without id, user or context"))
		return
	case errors.Is(err, session.ErrMissing):
		s.reject(ctx, fasthttp.StatusUnauthorized, "no_session",
			fmt.Sprintf("no session: pass the session id in the %q URL parameter", cfg.Session.Param))
		return
	case errors.Is(err, session.ErrUnauthenticated):
		s.reject(ctx, fasthttp.StatusUnauthorized, "unauthenticated", "the session is not valid", slog.String("error", err.Error()))
		return
	case err != nil:
		s.reject(ctx, fasthttp.StatusServiceUnavailable, "verifier_unavailable", "the session could not be verified right now; retry later",
			slog.String("error", err.Error()))
		return
	}
	if !sess.Expires.IsZero() && !time.Now().Before(sess.Expires) {
		s.reject(ctx, fasthttp.StatusUnauthorized, "unauthenticated", "the session has expired")
		return
	}
	if d := s.cascade.decide(sess.Context, sess.User, splitComma(sess.Attributes[cfg.Cascade.ContextSetAttribute])); !d.Enabled {
		s.reject(ctx, fasthttp.StatusForbidden, "disabled",
			fmt.Sprintf("WebSockets are disabled for this user (by the %s scope)", d.Scope),
			slog.String("user", sess.User), slog.String("context", sess.Context))
		return
	}
	if max := cfg.Limits.MaxSocketsPerUser; max > 0 && cfg.Limits.OnUserLimit == "refuse" &&
		s.reg.count(sess.Context, sess.User, pathfilter.All) >= max {
		s.reject(ctx, fasthttp.StatusTooManyRequests, "user_limit",
			fmt.Sprintf("this user already has %d sockets, the most allowed", max),
			slog.String("user", sess.User), slog.String("context", sess.Context))
		return
	}

	var offered []string
	for _, v := range h.PeekAll("Sec-WebSocket-Protocol") {
		offered = append(offered, wsproto.SplitList(string(v))...)
	}
	proto := rt.negotiateSubprotocol(offered)
	if proto == "" && rt.cfg.RequireSubprotocol {
		s.reject(ctx, fasthttp.StatusBadRequest, "subprotocol",
			fmt.Sprintf("none of the offered subprotocols %q is accepted; this route accepts %q", offered, rt.subprotocols))
		return
	}
	var deflate *wsproto.DeflateParams
	var extResp string
	if rt.deflate != nil {
		var values []string
		for _, v := range h.PeekAll("Sec-WebSocket-Extensions") {
			values = append(values, string(v))
		}
		if offers, ok := wsproto.ParseExtensions(values); ok {
			if p, resp, ok := wsproto.NegotiateDeflate(offers, *rt.deflate); ok {
				deflate, extResp = &p, resp
			}
		}
	}

	ctx.SetStatusCode(fasthttp.StatusSwitchingProtocols)
	ctx.Response.Header.Set("Upgrade", "websocket")
	ctx.Response.Header.Set("Connection", "Upgrade")
	ctx.Response.Header.Set("Sec-WebSocket-Accept", wsproto.AcceptKey(key))
	if proto != "" {
		ctx.Response.Header.Set("Sec-WebSocket-Protocol", proto)
	}
	if extResp != "" {
		ctx.Response.Header.Set("Sec-WebSocket-Extensions", extResp)
	}
	sock := &Socket{
		id:          s.newSocketID(),
		route:       rt,
		path:        string(ctx.Path()),
		rawQuery:    string(ctx.URI().QueryString()),
		remote:      ctx.RemoteAddr().String(),
		subprotocol: proto,
		srv:         s,
	}
	ctx.Hijack(func(c net.Conn) { s.accept(c, sock, sess, req, deflate) })
}

// sessionRequest copies what the verifier may look at out of the pooled
// fasthttp request.
func (s *Server) sessionRequest(ctx *fasthttp.RequestCtx, cfg *Config) *session.Request {
	h := &ctx.Request.Header
	req := &session.Request{
		SessionID:  string(ctx.QueryArgs().Peek(cfg.Session.Param)),
		Header:     make(http.Header, 12),
		Path:       string(ctx.Path()),
		RawQuery:   string(ctx.URI().QueryString()),
		RemoteAddr: ctx.RemoteAddr().String(),
	}
	for k, v := range h.Cookies() {
		req.Cookies = append(req.Cookies, session.Cookie{Name: string(k), Value: string(v)})
	}
	for k, v := range h.All() {
		name := http.CanonicalHeaderKey(string(k))
		if name == "Cookie" {
			continue
		}
		req.Header[name] = append(req.Header[name], string(v))
	}
	return req
}

// accept runs after the 101 response is written: it takes the connection
// from fasthttp, registers the socket and starts serving it.
func (s *Server) accept(c net.Conn, sock *Socket, v *session.Session, req *session.Request, deflate *wsproto.DeflateParams) {
	nc, leftover := takeConn(c)
	rt := sock.route
	sock.conn = wsconn.New(nc, rt.conn, deflate, (*socketHandler)(sock))
	now := time.Now().UnixNano()
	sock.connected = now
	cfg := s.cfg.Load()
	var keep *session.Request
	if s.reverifyInterval(cfg) > 0 {
		keep = req
	}
	// The node and per-IP caps were checked before the session was
	// verified; upgrades verified meanwhile may have taken the last slot.
	// Take the slots for real now, atomically, or refuse (after the 101:
	// with a close code).
	if !s.takeSlot(cfg.Limits.MaxSockets) {
		s.refuseAccepted(sock, "capacity", 1013, "server at capacity; try again later")
		return
	}
	ip := hostOf(sock.remote)
	if !s.ips.tryAdd(ip, cfg.Limits.MaxSocketsPerIP) {
		s.slots.Add(-1)
		s.refuseAccepted(sock, "ip_limit", wsproto.ClosePolicyViolation, "too many sockets from this address")
		return
	}
	// Hold the transcoder lock until open has run, so no outbound message
	// reaches the transcoder before it.
	sock.tmu.Lock()
	evict, ok := s.reg.add(sock, v, keep, cfg.Cascade.ContextSetAttribute, now,
		cfg.Limits.MaxSocketsPerUser, cfg.Limits.OnUserLimit == "close_oldest")
	if !ok {
		sock.tmu.Unlock()
		s.slots.Add(-1)
		s.ips.add(ip, -1)
		// Another upgrade of the same user took the last slot meanwhile.
		s.refuseAccepted(sock, "user_limit", wsproto.ClosePolicyViolation, "too many sockets for this user")
		return
	}
	rt.stats.sockets.Add(1)
	rt.stats.opened.Add(1)
	for _, old := range evict {
		old.closeWith(wsproto.ClosePolicyViolation, "too many sockets for this user: replaced by a newer one", "user_limit")
	}
	if tr := rt.transcoder; tr != nil {
		if err := tr.open(sock); err != nil {
			sock.tmu.Unlock()
			s.transcoderFailed(sock, "open", err)
			sock.conn.Serve(s.poller, nil)
			return
		}
	}
	sock.tmu.Unlock()
	for _, l := range *s.listeners.Load() {
		l.OnConnect(sock)
	}
	sock.announced = true
	sock.conn.Serve(s.poller, leftover)
}

// takeSlot counts a socket against the node cap (max <= 0: no cap).
func (s *Server) takeSlot(max int) bool {
	for {
		n := s.slots.Load()
		if max > 0 && n >= int64(max) {
			return false
		}
		if s.slots.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// refuseAccepted closes a socket that lost a race for a slot after its
// 101: it was never registered, its listeners are never told.
func (s *Server) refuseAccepted(sock *Socket, reason string, code uint16, msg string) {
	s.book.rejected[reason].Add(1)
	if s.rejectLog.allow() {
		s.log.Info("socket refused after upgrade", "reason", reason, "close", code, "detail", msg, "remote", sock.remote)
	}
	sock.conn.Serve(s.poller, nil)
	sock.conn.CloseWith(code, msg, reason)
}

// takeConn unwraps fasthttp's hijacked connection and returns any bytes the
// client sent after the upgrade request that fasthttp already buffered.
func takeConn(c net.Conn) (net.Conn, []byte) {
	u, ok := c.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return unwrapPending(c), nil
	}
	raw := unwrapPending(u.UnsafeConn())
	// With a deadline in the past, reads return what fasthttp buffered and
	// then fail at once, without taking anything from the socket.
	_ = raw.SetReadDeadline(time.Unix(1, 0))
	var leftover []byte
	var buf [512]byte
	for range 64 {
		n, err := c.Read(buf[:])
		leftover = append(leftover, buf[:n]...)
		if err != nil || n == 0 {
			break
		}
	}
	_ = raw.SetReadDeadline(time.Time{})
	return raw, leftover
}
