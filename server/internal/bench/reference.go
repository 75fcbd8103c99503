package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// The reference server is what the issue's figures call "bare fasthttp +
// fasthttp/websocket": the library's FastHTTPUpgrader with its default
// buffer sizes and the idiomatic goroutine-per-connection echo loop
// (NextReader, NextWriter, io.Copy), built from the same module versions
// as edgews. Every path upgrades and echoes; nothing is authenticated.
//
// For the fan-out mode it also keeps a map from the ?user= parameter to
// connections and serves POST /api/v1/send/bulk on its admin listener with
// edgews's body format, writing each message under the connection's write
// mutex (the echo loop takes the same mutex), as a bare server would.

// ReferenceOptions configure RunReference.
type ReferenceOptions struct {
	Listen string // WebSocket address
	Admin  string // admin address: /readyz, /api/v1/stats, /api/v1/send/bulk
	Log    *slog.Logger
}

type refConn struct {
	mu sync.Mutex // serialises writers: the echo loop and bulk sends
	c  *websocket.Conn
}

type refServer struct {
	log   *slog.Logger
	mu    sync.RWMutex
	users map[string]map[*refConn]struct{}
	n     int
}

// RunReference serves until ctx is done.
func RunReference(ctx context.Context, o ReferenceOptions) error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	rs := &refServer{log: o.Log, users: map[string]map[*refConn]struct{}{}}
	ws, err := net.Listen("tcp4", o.Listen)
	if err != nil {
		return fmt.Errorf("bench: reference listen: %w", err)
	}
	adm, err := net.Listen("tcp4", o.Admin)
	if err != nil {
		ws.Close()
		return fmt.Errorf("bench: reference admin listen: %w", err)
	}
	upgrader := websocket.FastHTTPUpgrader{}
	wsSrv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		user := string(ctx.QueryArgs().Peek("user")) // copied: ctx is pooled
		if err := upgrader.Upgrade(ctx, func(c *websocket.Conn) { rs.serve(c, user) }); err != nil {
			o.Log.Debug("reference: upgrade failed", "error", err)
		}
	}}
	admSrv := &fasthttp.Server{Handler: rs.admin, MaxRequestBodySize: 256 << 20}
	errc := make(chan error, 2)
	go func() { errc <- wsSrv.Serve(ws) }()
	go func() { errc <- admSrv.Serve(adm) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	ws.Close()
	adm.Close()
	return err
}

func (rs *refServer) serve(c *websocket.Conn, user string) {
	rc := &refConn{c: c}
	rs.mu.Lock()
	set := rs.users[user]
	if set == nil {
		set = map[*refConn]struct{}{}
		rs.users[user] = set
	}
	set[rc] = struct{}{}
	rs.n++
	rs.mu.Unlock()
	defer func() {
		rs.mu.Lock()
		delete(set, rc)
		if len(set) == 0 {
			delete(rs.users, user)
		}
		rs.n--
		rs.mu.Unlock()
		c.Close()
	}()
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return
		}
		rc.mu.Lock()
		w, err := c.NextWriter(mt)
		if err == nil {
			_, err = io.Copy(w, r)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		rc.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// bulkRequest is one entry of a bulk send, as edgews's admin API takes it.
type bulkRequest struct {
	Context       string  `json:"context"`
	User          string  `json:"user"`
	Path          string  `json:"path,omitempty"`
	Message       *string `json:"message,omitempty"`
	MessageBase64 *string `json:"message_base64,omitempty"`
	Local         bool    `json:"local,omitempty"`
}

type bulkError struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

type bulkResponse struct {
	Accepted int         `json:"accepted"`
	Sockets  int         `json:"sockets"`
	Nodes    int         `json:"nodes"`
	Errors   []bulkError `json:"errors"`
}

func (rs *refServer) admin(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/readyz", "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ready"}`)
	case "/api/v1/stats":
		rs.mu.RLock()
		n, users := rs.n, len(rs.users)
		rs.mu.RUnlock()
		writeRefJSON(ctx, fasthttp.StatusOK, map[string]int{"sockets": n, "users": users})
	case "/api/v1/send/bulk":
		if !ctx.IsPost() {
			writeRefJSON(ctx, fasthttp.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
			return
		}
		reqs, err := decodeBulk(ctx.PostBody(), string(ctx.Request.Header.ContentType()))
		if err != nil {
			writeRefJSON(ctx, fasthttp.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeRefJSON(ctx, fasthttp.StatusAccepted, rs.bulk(reqs))
	default:
		writeRefJSON(ctx, fasthttp.StatusNotFound, map[string]string{"error": "no such endpoint"})
	}
}

var errBulkBody = errors.New("bench: bad bulk body")

// decodeBulk reads a JSON array or, for application/x-ndjson, one request
// per line.
func decodeBulk(body []byte, contentType string) ([]bulkRequest, error) {
	var reqs []bulkRequest
	if strings.HasPrefix(contentType, "application/x-ndjson") {
		for i, line := range bytes.Split(body, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var r bulkRequest
			if err := json.Unmarshal(line, &r); err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", errBulkBody, i+1, err)
			}
			reqs = append(reqs, r)
		}
		return reqs, nil
	}
	if err := json.Unmarshal(body, &reqs); err != nil {
		return nil, fmt.Errorf("%w: %w", errBulkBody, err)
	}
	return reqs, nil
}

func (rs *refServer) bulk(reqs []bulkRequest) bulkResponse {
	res := bulkResponse{Errors: []bulkError{}}
	var conns []*refConn
	for i, r := range reqs {
		mt, data := websocket.TextMessage, []byte(nil)
		switch {
		case r.Message != nil:
			data = []byte(*r.Message)
		case r.MessageBase64 != nil:
			b, err := base64.StdEncoding.DecodeString(*r.MessageBase64)
			if err != nil {
				res.Errors = append(res.Errors, bulkError{i, err.Error()})
				continue
			}
			mt, data = websocket.BinaryMessage, b
		default:
			res.Errors = append(res.Errors, bulkError{i, "message or message_base64 is required"})
			continue
		}
		conns = conns[:0]
		rs.mu.RLock()
		for c := range rs.users[r.User] {
			conns = append(conns, c)
		}
		rs.mu.RUnlock()
		res.Accepted++
		for _, c := range conns {
			c.mu.Lock()
			err := c.c.WriteMessage(mt, data)
			c.mu.Unlock()
			if err == nil {
				res.Sockets++
			}
		}
	}
	return res
}

func writeRefJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	json.NewEncoder(ctx).Encode(v)
}
