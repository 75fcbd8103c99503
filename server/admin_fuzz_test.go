package server

// Fuzz targets for the admin API's request parsing: the bodies of
// POST /api/v1/send, POST /api/v1/send/bulk (JSON array and NDJSON) and
// PUT /api/v1/cascade, and the query strings and path parameters of the
// other endpoints. They drive the real handler (handleAdmin) through a
// fasthttp.RequestCtx, without a network, on a server that holds one real
// socket (over a net.Pipe) so that sends reach a real outbound queue. Every
// answer must be 2xx or 4xx with the API's JSON shape; a panic or a 5xx
// fails. Seeds are in testdata/fuzz/<target>.

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgews/edgews/server/session"
)

// fuzzServer builds a server that is not listening, with one socket of
// user "alice" in context "1" on /ws whose peer discards everything.
func fuzzServer(f *testing.F) *Server {
	f.Helper()
	cfg := DevConfig()
	cfg.Routes = cfg.Routes[:2]
	cfg.Transcoders = nil
	s, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		f.Fatal(err)
	}
	server, client := net.Pipe()
	go io.Copy(io.Discard, client)
	sock := &Socket{id: s.newSocketID(), route: s.routes.Load().byPath("/ws"), path: "/ws", remote: "127.0.0.1:1", srv: s}
	s.accept(server, sock, &session.Session{ID: "sess-alice", User: "alice", Context: "1"}, &session.Request{}, nil)
	if s.reg.count("1", "alice", allPaths) != 1 {
		f.Fatal("the fuzz socket was not registered")
	}
	f.Cleanup(func() {
		client.Close()
		server.Close()
		s.close()
	})
	return s
}

// adminCall runs one request through the admin handler and checks the
// answer: 2xx or 4xx, and a JSON body, which it returns.
func adminCall(t *testing.T, s *Server, method, uri, contentType string, body []byte) (int, []byte) {
	t.Helper()
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	if contentType != "" {
		req.Header.SetContentType(contentType)
	}
	req.SetBody(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
	s.handleAdmin(&ctx)
	status := ctx.Response.StatusCode()
	if status/100 != 2 && status/100 != 4 {
		t.Fatalf("%s %s %q: status %d: %s", method, uri, body, status, ctx.Response.Body())
	}
	if !json.Valid(ctx.Response.Body()) {
		t.Fatalf("%s %s %q: status %d with a body that is not JSON: %q", method, uri, body, status, ctx.Response.Body())
	}
	return status, append([]byte(nil), ctx.Response.Body()...)
}

func FuzzAdminSend(f *testing.F) {
	for _, seed := range []string{
		`{"context":"1","user":"alice","message":"hello"}`,
		`{"context":"1","user":"alice","path":"/ws","message_base64":"AAEC"}`,
		`{"context":"1","user":"alice","message":"x","message_base64":"AA=="}`,
		`{"context":"1","user":"alice","path":"/a*b","message":"x"}`,
		`{"context":"1","user":"alice","local":true,"message":"\u00e9\ud800"}`,
		`{"context":"","user":"alice","message":"x"}`,
		`{"context":"1","user":"alice","message_base64":"!!"}`,
		`{"context":"1","user":"alice","message":"x","colour":"red"}`,
		`{"context":"1"}{"user":"alice"}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		adminCall(t, s, "POST", "/api/v1/send", "application/json", body)
	})
}

func FuzzAdminSendBulk(f *testing.F) {
	for _, seed := range []struct {
		body   string
		ndjson bool
	}{
		{`[{"context":"1","user":"alice","message":"a"},{"context":"1","user":"bob","message_base64":"AAE="}]`, false},
		{`[{"context":"1","message":"no user"},{},null,{"context":"1","user":"alice","message":"x","extra":1}]`, false},
		{`{"context":"1","user":"alice","message":"not an array"}`, false},
		{"{\"context\":\"1\",\"user\":\"alice\",\"message\":\"n1\"}\n\n{\"context\":\"1\",\"user\":\"alice\",\"message\":\"n2\"}\n", true},
		{"{\"context\":\"1\",\"user\":\"alice\"}\n{bad json\n", true},
		{"\n\n\r\n", true},
		{"[]", true},
	} {
		f.Add([]byte(seed.body), seed.ndjson)
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		ct := "application/json"
		if ndjson {
			ct = "application/x-ndjson"
		}
		status, answer := adminCall(t, s, "POST", "/api/v1/send/bulk", ct, body)
		if status != 202 {
			return
		}
		// An accepted bulk call accounts for every entry once, in order.
		var res BulkResult
		if err := json.Unmarshal(answer, &res); err != nil {
			t.Fatalf("bulk answer %q: %v", answer, err)
		}
		total, last := res.Accepted+len(res.Errors), -1
		for _, e := range res.Errors {
			if e.Index <= last || e.Index >= total || e.Error == "" {
				t.Fatalf("bulk answer %+v: error entries out of order or range", res)
			}
			last = e.Index
		}
	})
}

func FuzzAdminCascade(f *testing.F) {
	for _, seed := range []struct {
		body, query string
	}{
		{`{"scope":"user","context":"1","user":"bob","enabled":false}`, "scope=user&context=1&user=bob"},
		{`{"scope":"context_set","context_set":"trial","enabled":true}`, "scope=context_set&context_set=trial"},
		{`{"scope":"server","enabled":true}`, "scope=server"},
		{`{"scope":"context","context":"1","enabled":false}`, "scope=context&context=1"},
		{`{"scope":"galaxy","enabled":false}`, "scope=galaxy"},
		{`{"scope":"user","enabled":null}`, "scope=user&context=&user="},
		{`{"scope":"user","context":"1","user":"alice","enabled":"no"}`, "context=1&user=alice&context_sets=a,,b"},
	} {
		f.Add([]byte(seed.body), seed.query)
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		adminCall(t, s, "PUT", "/api/v1/cascade", "application/json", body)
		adminCall(t, s, "DELETE", "/api/v1/cascade?"+query, "", nil)
		adminCall(t, s, "GET", "/api/v1/cascade?"+query, "", nil)
		// Leave the server scope enabled for the next input.
		adminCall(t, s, "DELETE", "/api/v1/cascade?scope=server", "", nil)
	})
}

// FuzzAdminQuery fuzzes the query strings and path parameters of the
// endpoints that read them.
func FuzzAdminQuery(f *testing.F) {
	for _, seed := range []string{
		"context=1&user=alice", "context=1&user=alice&path=/ws", "context=1&user=alice&path=/a*b",
		"context=1&user=alice&scope=local", "scope=galaxy", "context=%ff&user=%00", "",
	} {
		f.Add(seed, "sess-alice")
	}
	f.Add("context=1&user=alice&path=*", "%2Fetc%2Fpasswd")
	f.Add("user=alice", "a%zz")
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, query, id string) {
		for _, path := range []string{"/api/v1/exists", "/api/v1/sockets", "/api/v1/stats", "/api/v1/members", "/api/v1/transcoders"} {
			adminCall(t, s, "GET", path+"?"+query, "", nil)
		}
		// Never the fuzz socket's own session: it must stay for the others.
		if id != "sess-alice" {
			adminCall(t, s, "DELETE", "/api/v1/sessions/"+id+"?"+query, "", nil)
		}
	})
}
