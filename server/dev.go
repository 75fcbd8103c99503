package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/valyala/fasthttp"

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
	case "/":
		if s.routes.Load().match(path) != nil {
			return false
		}
		ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(ctx, "edgews (dev mode)\n\nPOST /dev/login {\"user\":\"alice\",\"context\":\"1\"} returns a session;\nthen open ws://%s/ws?session=<session>\n", ctx.Host())
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
