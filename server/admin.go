package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The admin API: JSON over HTTP on its own listener. Every error is one
// JSON shape: {"error": "...", "status": N}.

type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{fasthttp.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// adminRoute is one endpoint of the admin API. Path may end in "{name}":
// one path segment that the handler reads itself. The table is the single
// source the dispatcher and the OpenAPI test use.
type adminRoute struct {
	method string
	path   string
	public bool // no token needed
	h      func(*fasthttp.RequestCtx) error
}

func (s *Server) adminRoutes() []adminRoute {
	return []adminRoute{
		{"GET", "/healthz", true, s.apiHealthz},
		{"GET", "/readyz", true, s.apiReadyz},
		{"GET", "/metrics", false, func(ctx *fasthttp.RequestCtx) error { s.metrics.handler(ctx); return nil }},
		{"GET", "/api/v1/openapi.json", true, s.apiOpenAPI},
		{"GET", "/debug/pprof/{name}", false, s.apiPprof},
		{"POST", "/api/v1/send", false, s.apiSend},
		{"POST", "/api/v1/send/bulk", false, s.apiSendBulk},
		{"GET", "/api/v1/exists", false, s.apiExists},
		{"GET", "/api/v1/stats", false, s.apiStats},
		{"GET", "/api/v1/sockets", false, s.apiSockets},
		{"GET", "/api/v1/members", false, s.apiMembers},
		{"GET", "/api/v1/transcoders", false, s.apiTranscoders},
		{"PUT", "/api/v1/transcoders/{name}", false, s.apiReplaceTranscoder},
		{"DELETE", "/api/v1/sessions/{id}", false, s.apiCloseSession},
		{"GET", "/api/v1/cascade", false, s.apiCascadeGet},
		{"PUT", "/api/v1/cascade", false, s.apiCascadePut},
		{"DELETE", "/api/v1/cascade", false, s.apiCascadeDelete},
	}
}

// matchPath reports whether path matches a route pattern.
func matchPath(pattern, path string) bool {
	if i := strings.LastIndex(pattern, "{"); i >= 0 && strings.HasSuffix(pattern, "}") {
		rest, ok := strings.CutPrefix(path, pattern[:i])
		return ok && rest != "" && !strings.Contains(rest, "/")
	}
	return pattern == path
}

func (s *Server) handleAdmin(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	method := string(ctx.Method())
	var allow []string
	for _, r := range s.adminRoutes() {
		if !matchPath(r.path, path) {
			continue
		}
		if r.method != method {
			allow = append(allow, r.method)
			continue
		}
		if !r.public && !s.authorized(ctx) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="edgews admin"`)
			s.log.Info("admin request refused", "reason", "missing or wrong bearer token", "path", path, "remote", ctx.RemoteAddr().String())
			writeError(ctx, &apiError{fasthttp.StatusUnauthorized, "missing or wrong bearer token"})
			return
		}
		if err := r.h(ctx); err != nil {
			writeError(ctx, err)
		}
		return
	}
	if len(allow) > 0 {
		ctx.Response.Header.Set("Allow", strings.Join(allow, ", "))
		writeError(ctx, &apiError{fasthttp.StatusMethodNotAllowed, "use " + strings.Join(allow, " or ")})
		return
	}
	writeError(ctx, &apiError{fasthttp.StatusNotFound, "no such endpoint: " + path})
}

func (s *Server) apiHealthz(ctx *fasthttp.RequestCtx) error {
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) apiReadyz(ctx *fasthttp.RequestCtx) error {
	switch {
	case s.draining.Load():
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "draining"})
	case s.clusterDown.Load():
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]string{"status": "cluster_down"})
	default:
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ready"})
	}
	return nil
}

func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	tok := *s.token.Load()
	if tok == "" {
		return true
	}
	got, ok := bytes.CutPrefix(ctx.Request.Header.Peek("Authorization"), []byte("Bearer "))
	return ok && subtle.ConstantTimeCompare(bytes.TrimSpace(got), []byte(tok)) == 1
}

// adminParseError answers requests fasthttp could not parse in the API's
// error shape.
func adminParseError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, &apiError{fasthttp.StatusRequestEntityTooLarge, "request body is larger than the admin API accepts (limits.max_message_size, base64-encoded, plus 64KiB)"})
		return
	}
	writeError(ctx, badRequest("malformed HTTP request: %v", err))
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.Response.Header.SetContentType("application/json")
	ctx.SetStatusCode(status)
	b, _ := json.Marshal(v)
	ctx.SetBody(append(b, '\n'))
}

func writeError(ctx *fasthttp.RequestCtx, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, ErrInvalidTarget), errors.Is(err, ErrCascade):
		ae = &apiError{fasthttp.StatusBadRequest, err.Error()}
	default:
		ae = &apiError{fasthttp.StatusInternalServerError, err.Error()}
	}
	writeJSON(ctx, ae.status, map[string]any{"error": ae.msg, "status": ae.status})
}

// decodeBody decodes a JSON body strictly: unknown fields are errors
// naming the field.
func decodeBody(ctx *fasthttp.RequestCtx, v any) error {
	body := ctx.PostBody()
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %v", err)
	}
	if dec.More() {
		return badRequest("invalid JSON body: more than one JSON value")
	}
	return nil
}

// scopeLocal reads ?scope=local|cluster (default cluster).
func scopeLocal(ctx *fasthttp.RequestCtx) (bool, error) {
	switch v := string(ctx.QueryArgs().Peek("scope")); v {
	case "", "cluster":
		return false, nil
	case "local":
		return true, nil
	default:
		return false, badRequest("scope %q is not one of local, cluster", v)
	}
}

// SendRequest is the body of POST /api/v1/send.
type SendRequest struct {
	Context string `json:"context"`
	User    string `json:"user"`
	Path    string `json:"path,omitempty"`
	// Message is a text message; MessageBase64 a binary one (exactly one).
	Message       *string `json:"message,omitempty"`
	MessageBase64 *string `json:"message_base64,omitempty"`
	Local         bool    `json:"local,omitempty"`
}

func (s *Server) apiSend(ctx *fasthttp.RequestCtx) error {
	var req SendRequest
	if err := decodeBody(ctx, &req); err != nil {
		return err
	}
	m, err := req.message(int(s.cfg.Load().Limits.MaxMessageSize))
	if err != nil {
		return err
	}
	res, err := s.Send(context.Background(), Target{Context: req.Context, User: req.User, Path: req.Path, Local: req.Local}, m)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusAccepted, res)
	return nil
}

func targetFromQuery(ctx *fasthttp.RequestCtx) (Target, error) {
	args := ctx.QueryArgs()
	local, err := scopeLocal(ctx)
	if err != nil {
		return Target{}, err
	}
	return Target{
		Context: string(args.Peek("context")),
		User:    string(args.Peek("user")),
		Path:    string(args.Peek("path")),
		Local:   local,
	}, nil
}

func (s *Server) apiExists(ctx *fasthttp.RequestCtx) error {
	t, err := targetFromQuery(ctx)
	if err != nil {
		return err
	}
	res, err := s.Exists(context.Background(), t)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, res)
	return nil
}

func (s *Server) apiSockets(ctx *fasthttp.RequestCtx) error {
	t, err := targetFromQuery(ctx)
	if err != nil {
		return err
	}
	list, err := s.Sockets(t)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"sockets": list})
	return nil
}

func (s *Server) apiStats(ctx *fasthttp.RequestCtx) error {
	local, err := scopeLocal(ctx)
	if err != nil {
		return err
	}
	st, err := s.Stats(context.Background(), local)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, st)
	return nil
}

func (s *Server) apiCloseSession(ctx *fasthttp.RequestCtx) error {
	id, err := url.PathUnescape(strings.TrimPrefix(string(ctx.Path()), "/api/v1/sessions/"))
	if err != nil || id == "" || strings.Contains(id, "/") {
		return badRequest("expected /api/v1/sessions/{id}")
	}
	local, err := scopeLocal(ctx)
	if err != nil {
		return err
	}
	n, err := s.CloseSession(context.Background(), id, local)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]int{"closed": n})
	return nil
}

func (s *Server) apiCascadeGet(ctx *fasthttp.RequestCtx) error {
	args := ctx.QueryArgs()
	c, u := string(args.Peek("context")), string(args.Peek("user"))
	if c == "" || u == "" {
		return badRequest("context and user are required")
	}
	writeJSON(ctx, fasthttp.StatusOK, s.Cascade(c, u, splitComma(string(args.Peek("context_sets")))))
	return nil
}

func (s *Server) apiCascadePut(ctx *fasthttp.RequestCtx) error {
	var ch CascadeChange
	if err := decodeBody(ctx, &ch); err != nil {
		return err
	}
	if ch.Enabled == nil {
		return badRequest("enabled (true or false) is required; use DELETE to clear an override")
	}
	n, err := s.SetCascade(ch)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]int{"closed": n})
	return nil
}

func (s *Server) apiCascadeDelete(ctx *fasthttp.RequestCtx) error {
	args := ctx.QueryArgs()
	ch := CascadeChange{
		Scope:      string(args.Peek("scope")),
		ContextSet: string(args.Peek("context_set")),
		Context:    string(args.Peek("context")),
		User:       string(args.Peek("user")),
	}
	n, err := s.SetCascade(ch)
	if err != nil {
		return err
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]int{"closed": n})
	return nil
}

func (s *Server) apiMembers(ctx *fasthttp.RequestCtx) error {
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"members": s.Members()})
	return nil
}

func (s *Server) apiTranscoders(ctx *fasthttp.RequestCtx) error {
	list := s.Transcoders()
	if list == nil {
		list = []TranscoderInfo{}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"transcoders": list})
	return nil
}

// apiReplaceTranscoder swaps a transcoder for the uploaded module (the body
// is the .wasm). The new module is compiled and validated first; if it is
// refused the old one keeps serving and the answer says why (422).
func (s *Server) apiReplaceTranscoder(ctx *fasthttp.RequestCtx) error {
	name := strings.TrimPrefix(string(ctx.Path()), "/api/v1/transcoders/")
	if name == "" || strings.Contains(name, "/") {
		return badRequest("expected /api/v1/transcoders/{name}")
	}
	body := ctx.PostBody()
	if len(body) == 0 {
		return badRequest("the request body must be the .wasm module")
	}
	wasm := append([]byte(nil), body...)
	rctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	hash, err := s.replaceTranscoder(rctx, name, wasm)
	switch {
	case errors.Is(err, ErrInvalidTarget):
		return &apiError{fasthttp.StatusNotFound, err.Error()}
	case err != nil:
		return &apiError{fasthttp.StatusUnprocessableEntity, "module refused; the current one keeps serving: " + err.Error()}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"transcoder": name, "sha256": hash, "status": "swapped"})
	return nil
}
