package server

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"strings"
	"time"
	"unicode"

	"github.com/valyala/fasthttp"

	"github.com/edgews/edgews/server/internal/demo"
	"github.com/edgews/edgews/server/session"
)

// handleDev serves the dev-mode endpoints on the browser-facing listener.
// It reports whether it handled the request.
func (s *Server) handleDev(ctx *fasthttp.RequestCtx, path []byte) bool {
	switch string(path) {
	case "/dev/login":
		s.devLogin(ctx)
		return true
	case "/dev/logout":
		s.devLogout(ctx)
		return true
	case "/dev/send":
		s.devSend(ctx)
		return true
	case "/", "/index.html":
		if s.routes.Load().match(path) != nil {
			return false
		}
		serveDemo(ctx, "index.html", "text/html; charset=utf-8")
		return true
	case "/demo/socket.io.min.js":
		serveDemo(ctx, "socket.io.min.js", "text/javascript; charset=utf-8")
		return true
	}
	return false
}

type devLoginRequest struct {
	User    string `json:"user"`
	Context string `json:"context"`
	// TTL is an optional session lifetime ("30m"); none means no expiry.
	TTL string `json:"ttl,omitempty"`
}

func validIdent(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func (s *Server) devLogin(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, &apiError{fasthttp.StatusMethodNotAllowed, "use POST with {\"user\":\"alice\",\"context\":\"1\"}"})
		return
	}
	var req devLoginRequest
	dec := json.NewDecoder(bytes.NewReader(ctx.PostBody()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(ctx, badRequest("invalid JSON body: %v", err))
		return
	}
	if !validIdent(req.User) || !validIdent(req.Context) {
		writeError(ctx, badRequest("user and context are required: 1 to 256 characters without spaces or control characters"))
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			writeError(ctx, badRequest("ttl %q is not a positive duration like 30m", req.TTL))
			return
		}
		ttl = d
	}
	sess := s.dev.Login(req.User, req.Context, ttl)
	var c fasthttp.Cookie
	c.SetKey(session.DevCookie)
	c.SetValue(sess.ID)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	if !sess.Expires.IsZero() {
		c.SetExpire(sess.Expires)
	}
	ctx.Response.Header.SetCookie(&c)
	resp := map[string]string{"session": sess.ID, "user": sess.User, "context": sess.Context}
	if !sess.Expires.IsZero() {
		resp["expires_at"] = sess.Expires.UTC().Format(time.RFC3339)
	}
	s.log.Info("dev login", "user", sess.User, "context", sess.Context)
	writeJSON(ctx, fasthttp.StatusOK, resp)
}

// devLogout ends the dev session named by the cookie or ?session= and
// closes its sockets.
func (s *Server) devLogout(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, &apiError{fasthttp.StatusMethodNotAllowed, "use POST"})
		return
	}
	id := string(ctx.QueryArgs().Peek(s.cfg.Load().Session.Param))
	if id == "" {
		id = string(ctx.Request.Header.Cookie(session.DevCookie))
	}
	if strings.TrimSpace(id) == "" {
		writeError(ctx, badRequest("no session to log out"))
		return
	}
	s.dev.Invalidate(id)
	n, _ := s.CloseSession(ctx, id, true)
	writeJSON(ctx, fasthttp.StatusOK, map[string]int{"closed": n})
}

func serveDemo(ctx *fasthttp.RequestCtx, name, ctype string) {
	b, err := fs.ReadFile(demo.Files(), name)
	if err != nil {
		ctx.Error("demo file missing", fasthttp.StatusInternalServerError)
		return
	}
	ctx.Response.Header.Set("Content-Type", ctype)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(b)
}

// devSend is the demo page's send form: POST /dev/send with the body of
// /api/v1/send, in dev mode only (the admin API may be elsewhere or need
// a token the page does not have).
func (s *Server) devSend(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, &apiError{fasthttp.StatusMethodNotAllowed, "use POST"})
		return
	}
	if err := s.apiSend(ctx); err != nil {
		writeError(ctx, err)
	}
}
