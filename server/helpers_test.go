package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/edgews/edgews/server/pathfilter"
)

// testServer is a real edgews server on loopback ports.
type testServer struct {
	*Server
	t     *testing.T
	ws    string // ws://127.0.0.1:port
	admin string // http://127.0.0.1:port
	token string
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("EDGEWS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// wasmCompileMu serializes server construction when transcoders are
// configured: wazero v1.12 can hand out a broken module when two runtimes
// compile the same bytes into one cache directory at once.
var wasmCompileMu sync.Mutex

// startServer starts a dev-mode server; mutate adjusts the config first.
// The dev config's Socket.IO route is left out unless mutate adds it back
// (compiling the module costs time every test would pay).
func startServer(t *testing.T, mutate func(*Config), opts ...Option) *testServer {
	t.Helper()
	cfg := DevConfig()
	cfg.Routes = cfg.Routes[:2]
	cfg.Transcoders = nil
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.NodeName = "test"
	cfg.DrainTimeout = 3 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	opts = append([]Option{WithLogger(testLogger(t))}, opts...)
	if len(cfg.Transcoders) > 0 {
		wasmCompileMu.Lock()
		defer wasmCompileMu.Unlock()
	}
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	ts := &testServer{Server: s, t: t, ws: "ws://" + s.Addr().String(), token: cfg.Admin.Token}
	if a := s.AdminAddr(); a != nil {
		ts.admin = "http://" + a.String()
	}
	return ts
}

// login creates a dev session and returns its id.
func (ts *testServer) login(user, ctx string) string {
	ts.t.Helper()
	resp, err := http.Post("http://"+ts.Addr().String()+"/dev/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"user":%q,"context":%q}`, user, ctx)))
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Session string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Session == "" {
		ts.t.Fatalf("login: %v %+v", err, out)
	}
	return out.Session
}

// dial opens a socket on path with the session id (if any) and the same-host Origin.
func (ts *testServer) dial(path, session string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	u := ts.ws + path
	if session != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		u += sep + "session=" + url.QueryEscape(session)
	}
	if hdr == nil {
		hdr = http.Header{}
	}
	if _, ok := hdr["Origin"]; !ok {
		hdr.Set("Origin", "http://"+ts.Addr().String())
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(u, hdr)
}

// mustDial is dial that fails the test on error.
func (ts *testServer) mustDial(path, session string) *websocket.Conn {
	ts.t.Helper()
	c, resp, err := ts.dial(path, session, nil)
	if err != nil {
		ts.t.Fatalf("dial %s: %v (%s)", path, err, respText(resp))
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}

func respText(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
}

// api calls the admin API and decodes the JSON answer into out (if non-nil).
func (ts *testServer) api(method, path string, body any, out any) int {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
	}
	req, _ := http.NewRequest(method, ts.admin+path, rd)
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			ts.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// eventually polls cond for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readText reads the next message and expects text.
func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("got message type %d, want text", typ)
	}
	return string(data)
}

// readClose reads until the connection closes and returns the close code
// and reason the server sent.
func readClose(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if e, ok := err.(*websocket.CloseError); ok {
			ce = e
			return ce.Code, ce.Text
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

var allPaths = pathfilter.All
