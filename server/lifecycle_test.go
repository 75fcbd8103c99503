package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/edgews/edgews/server/internal/wsproto"
)

func TestSessionInvalidation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	s1, s2 := ts.login("alice", "1"), ts.login("alice", "1")
	a, b := ts.mustDial("/ws", s1), ts.mustDial("/echo", s1)
	other := ts.mustDial("/ws", s2)
	eventually(t, "3 sockets", func() bool { return ts.reg.total.Load() == 3 })
	var out map[string]int
	if st := ts.api("DELETE", "/api/v1/sessions/"+s1, nil, &out); st != 200 || out["closed"] != 2 {
		t.Fatalf("%d %v", st, out)
	}
	for _, c := range []*websocket.Conn{a, b} {
		if code, reason := readClose(t, c); code != 4401 || reason != "session invalidated" {
			t.Fatalf("close %d %q", code, reason)
		}
	}
	// The other session is untouched.
	ts.api("POST", "/api/v1/send", `{"context":"1","user":"alice","message":"still here"}`, nil)
	if got := readText(t, other); got != "still here" {
		t.Fatalf("%q", got)
	}
	// The dev verifier forgot the session: reconnecting is refused.
	if _, resp, err := ts.dial("/ws", s1, nil); err == nil || resp.StatusCode != 401 {
		t.Fatalf("reconnect after invalidation: %v %s", err, respText(resp))
	}
	var st Stats
	eventually(t, "closes counted", func() bool {
		ts.api("GET", "/api/v1/stats", nil, &st)
		return st.Closed["session_invalidated"] == 2
	})
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	resp, err := http.Post("http://"+ts.Addr().String()+"/dev/login", "application/json", strings.NewReader(`{"user":"eve","context":"1","ttl":"400ms"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Session string }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	c := ts.mustDial("/ws", out.Session)
	start := time.Now()
	if code, reason := readClose(t, c); code != 4401 || reason != "session expired" {
		t.Fatalf("close %d %q", code, reason)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed %v after connecting; the session lived 400ms", d)
	}
}

// TestReverification: periodic re-verification closes sockets of a session
// the backend no longer knows, and keeps them while the backend is down.
func TestReverification(t *testing.T) {
	t.Parallel()
	var state atomic.Value // "ok", "down", "gone"
	state.Store("ok")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch state.Load() {
		case "ok":
			io.WriteString(w, `{"user":"u","context":"c"}`)
		case "down":
			w.WriteHeader(503)
		default:
			w.WriteHeader(401)
		}
	}))
	defer backend.Close()
	interval := 100 * time.Millisecond
	ts := startServer(t, func(c *Config) {
		c.Session.Verifier = "http"
		c.Session.HTTP.URL = backend.URL
		c.Session.ReverifyInterval = &interval
	})
	c := ts.mustDial("/ws", "sess-r")
	eventually(t, "registered", func() bool { return ts.reg.total.Load() == 1 })
	state.Store("down")
	time.Sleep(5 * interval) // several failed re-verifications
	if ts.reg.total.Load() != 1 {
		t.Fatal("an unavailable backend closed the socket")
	}
	state.Store("gone")
	if code, reason := readClose(t, c); code != 4401 || reason != "session no longer valid" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func writeRaw(t *testing.T, c *websocket.Conn, frame []byte) {
	t.Helper()
	if _, err := c.UnderlyingConn().Write(frame); err != nil {
		t.Fatal(err)
	}
}

func TestMessageLimits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.Routes = append(c.Routes, RouteConfig{Path: "/small", MaxMessageSize: 1024, Echo: true})
	})
	t.Run("oversized 1009", func(t *testing.T) {
		c := ts.mustDial("/small", ts.login("a", "1"))
		c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 1024)))
		if got := readText(t, c); len(got) != 1024 {
			t.Fatalf("a message at the limit was not echoed")
		}
		c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 1025)))
		if code, _ := readClose(t, c); code != 1009 {
			t.Fatalf("close %d, want 1009", code)
		}
	})
	t.Run("invalid UTF-8 1007", func(t *testing.T) {
		c := ts.mustDial("/small", ts.login("b", "1"))
		writeRaw(t, c, wsproto.AppendClientFrame(nil, true, wsproto.OpText, 0, [4]byte{1, 2, 3, 4}, []byte("ok \xc3\x28")))
		if code, _ := readClose(t, c); code != 1007 {
			t.Fatalf("close %d, want 1007", code)
		}
	})
	t.Run("protocol error 1002", func(t *testing.T) {
		c := ts.mustDial("/small", ts.login("c", "1"))
		writeRaw(t, c, wsproto.AppendClientFrame(nil, true, 0x3, 0, [4]byte{1, 2, 3, 4}, nil))
		if code, _ := readClose(t, c); code != 1002 {
			t.Fatalf("close %d, want 1002", code)
		}
	})
	var st Stats
	eventually(t, "closes counted", func() bool {
		ts.api("GET", "/api/v1/stats", nil, &st)
		return st.Routes["/small"].Closed["protocol_error"] == 3
	})
	// Admin sends over the limit are refused with 413.
	var e map[string]any
	if code := ts.api("POST", "/api/v1/send", map[string]string{"context": "1", "user": "a", "message": strings.Repeat("y", 1<<20+1)}, &e); code != 413 {
		t.Fatalf("oversized send: %d %v", code, e)
	}
	// A body over the admin API's limit is refused from its Content-Length.
	raw, err := net.Dial("tcp", strings.TrimPrefix(ts.admin, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	io.WriteString(raw, "POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 134217728\r\n\r\n")
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(raw), nil)
	if err != nil || resp.StatusCode != 413 {
		t.Fatalf("huge body: %v %v", resp, err)
	}
}

func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.Limits.QueueMessages = 8
		c.Limits.WriteTimeout = time.Minute // only the full queue may end it
		c.Limits.CloseTimeout = 500 * time.Millisecond
	})
	sess := ts.login("slow", "1")
	c := ts.mustDial("/ws", sess) // never reads
	fast := ts.mustDial("/ws", ts.login("fast", "1"))
	eventually(t, "2 sockets", func() bool { return ts.reg.total.Load() == 2 })
	big := strings.Repeat("z", 256<<10)
	for i := 0; i < 400 && ts.reg.count("1", "slow", allPaths) > 0; i++ {
		ts.api("POST", "/api/v1/send", map[string]string{"context": "1", "user": "slow", "message": big}, nil)
	}
	eventually(t, "slow socket dropped", func() bool { return ts.reg.count("1", "slow", allPaths) == 0 })
	// Everyone else is still served.
	ts.api("POST", "/api/v1/send", `{"context":"1","user":"fast","message":"fine"}`, nil)
	if got := readText(t, fast); got != "fine" {
		t.Fatalf("%q", got)
	}
	var st Stats
	eventually(t, "slow consumer counted", func() bool {
		ts.api("GET", "/api/v1/stats", nil, &st)
		return st.Closed["slow_consumer"] == 1 && st.DroppedOut > 0
	})
	_ = c
}

func TestKeepalive(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.Limits.PingInterval = 100 * time.Millisecond
		c.Limits.PongTimeout = 150 * time.Millisecond
	})
	// A client that answers pings (fasthttp/websocket does while reading) stays.
	alive := ts.mustDial("/ws", ts.login("alive", "1"))
	var pings atomic.Int32
	alive.SetPingHandler(func(data string) error {
		pings.Add(1)
		return alive.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := alive.ReadMessage(); err != nil {
				return
			}
		}
	}()
	// A raw client that never reads or answers is dropped.
	sess := ts.login("dead", "1")
	raw, err := net.Dial("tcp", ts.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	io.WriteString(raw, "GET /ws?session="+sess+" HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	buf := make([]byte, 512)
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _ := raw.Read(buf); !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 101") {
		t.Fatalf("upgrade: %q", buf[:n])
	}
	eventually(t, "dead socket registered", func() bool { return ts.reg.count("1", "dead", allPaths) == 1 })
	eventually(t, "dead socket dropped", func() bool { return ts.reg.count("1", "dead", allPaths) == 0 })
	eventually(t, "three pings answered", func() bool { return pings.Load() >= 3 })
	if ts.reg.count("1", "alive", allPaths) != 1 {
		t.Fatal("a socket answering pings was dropped")
	}
	var st Stats
	eventually(t, "ping timeout counted", func() bool {
		ts.api("GET", "/api/v1/stats", nil, &st)
		return st.Closed["ping_timeout"] == 1
	})
}

func TestDrain(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	conns := []*websocket.Conn{ts.mustDial("/ws", ts.login("a", "1")), ts.mustDial("/echo", ts.login("b", "1"))}
	eventually(t, "sockets", func() bool { return ts.reg.total.Load() == 2 })
	codes := make(chan int, 2)
	for _, c := range conns {
		go func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					if ce, ok := err.(*websocket.CloseError); ok {
						codes <- ce.Code
					} else {
						codes <- -1
					}
					return
				}
			}
		}()
	}
	done := make(chan error)
	go func() { done <- ts.Shutdown(t.Context()) }()
	for range conns {
		if code := <-codes; code != 1001 {
			t.Fatalf("close %d, want 1001", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.dial("/ws", ts.dev.Login("c", "1", 0).ID, nil); err == nil {
		t.Fatal("upgrade accepted after shutdown")
	}
}

func TestCascadeAdmin(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.Cascade.ContextSets = []ContextSetConfig{{Name: "trial", Contexts: []string{"7"}, Enabled: boolPtr(false)}}
	})
	// Context 7 is in the disabled "trial" set.
	if _, resp, err := ts.dial("/ws", ts.login("t", "7"), nil); err == nil || resp.StatusCode != 403 {
		t.Fatalf("trial context: %v %s", err, respText(resp))
	}
	var d CascadeDecision
	ts.api("GET", "/api/v1/cascade?context=7&user=t", nil, &d)
	if d.Enabled || d.Scope != ScopeContextSet || d.Name != "trial" || d.Source != "config" {
		t.Fatalf("decision %+v", d)
	}
	// Disable one user at runtime: the open socket closes with 4403.
	c := ts.mustDial("/ws", ts.login("bob", "1"))
	eventually(t, "registered", func() bool { return ts.reg.total.Load() == 1 })
	var out map[string]int
	if st := ts.api("PUT", "/api/v1/cascade", `{"scope":"user","context":"1","user":"bob","enabled":false}`, &out); st != 200 || out["closed"] != 1 {
		t.Fatalf("put: %d %v", st, out)
	}
	if code, _ := readClose(t, c); code != int(CloseDisabled) {
		t.Fatalf("close %d", code)
	}
	if _, resp, err := ts.dial("/ws", ts.login("bob", "1"), nil); err == nil || resp.StatusCode != 403 {
		t.Fatalf("disabled user: %v %s", err, respText(resp))
	}
	// Clearing the override enables bob again; a user override beats the set.
	ts.api("DELETE", "/api/v1/cascade?scope=user&context=1&user=bob", nil, nil)
	ts.mustDial("/ws", ts.login("bob", "1"))
	ts.api("PUT", "/api/v1/cascade", `{"scope":"user","context":"7","user":"t","enabled":true}`, nil)
	ts.mustDial("/ws", ts.login("t", "7"))
	// Server scope off: everyone else refused; bad changes are 400.
	ts.api("PUT", "/api/v1/cascade", `{"scope":"server","enabled":false}`, nil)
	if _, resp, err := ts.dial("/ws", ts.login("z", "2"), nil); err == nil || resp.StatusCode != 403 {
		t.Fatalf("server off: %v %s", err, respText(resp))
	}
	var e map[string]any
	if st := ts.api("PUT", "/api/v1/cascade", `{"scope":"galaxy","enabled":false}`, &e); st != 400 {
		t.Fatalf("bad scope: %d %v", st, e)
	}
	if st := ts.api("PUT", "/api/v1/cascade", `{"scope":"user","enabled":false,"colour":"red"}`, &e); st != 400 || !strings.Contains(e["error"].(string), "colour") {
		t.Fatalf("unknown field: %d %v", st, e)
	}
}

func TestUserLimitCloseOldest(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.Limits.MaxSocketsPerUser = 2
		c.Limits.OnUserLimit = "close_oldest"
	})
	sess := ts.login("u", "1")
	first := ts.mustDial("/ws", sess)
	eventually(t, "first", func() bool { return ts.reg.total.Load() == 1 })
	ts.mustDial("/ws", sess)
	eventually(t, "second", func() bool { return ts.reg.total.Load() == 2 })
	ts.mustDial("/ws", sess)
	if code, reason := readClose(t, first); code != 1008 || !strings.Contains(reason, "too many sockets") {
		t.Fatalf("close %d %q", code, reason)
	}
	eventually(t, "two left", func() bool { return ts.reg.count("1", "u", allPaths) == 2 })
}

func TestAdminAuthAndMetrics(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.Admin.Token = "s3cret-token" })
	ts.mustDial("/ws", ts.login("m", "1"))
	eventually(t, "registered", func() bool { return ts.reg.total.Load() == 1 })
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", ts.admin+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/api/v1/stats", "/metrics", "/api/v1/exists?context=1&user=m"} {
		if st, _ := get(p, ""); st != 401 {
			t.Errorf("%s without token: %d", p, st)
		}
		if st, _ := get(p, "wrong"); st != 401 {
			t.Errorf("%s with a wrong token: %d", p, st)
		}
	}
	if st, _ := get("/healthz", ""); st != 200 {
		t.Fatalf("healthz %d", st)
	}
	if st, _ := get("/readyz", ""); st != 200 {
		t.Fatalf("readyz %d", st)
	}
	st, body := get("/metrics", "s3cret-token")
	if st != 200 {
		t.Fatalf("metrics %d", st)
	}
	for _, want := range []string{`edgews_sockets{route="/ws"} 1`, `edgews_sockets_opened_total{route="/ws"} 1`, `edgews_session_verify_seconds_count{result="ok"} 1`, "go_goroutines", `edgews_upgrades_rejected_total{reason="origin"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if st, b := get("/api/v1/nope", "s3cret-token"); st != 404 || !strings.Contains(b, `"status":404`) {
		t.Fatalf("unknown endpoint: %d %s", st, b)
	}
}

// TestWebhook: a real HTTP backend receives connect, message and close
// events, in order, in batches.
func TestWebhook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []webhookEvent
	var batches atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Events []webhookEvent }
		json.NewDecoder(r.Body).Decode(&body)
		if r.Header.Get("X-Hook") != "yes" {
			w.WriteHeader(403)
			return
		}
		batches.Add(1)
		mu.Lock()
		events = append(events, body.Events...)
		mu.Unlock()
	}))
	defer backend.Close()
	ts := startServer(t, func(c *Config) {
		c.Webhook.URL = backend.URL
		c.Webhook.Headers = map[string]string{"X-Hook": "yes"}
		c.Webhook.BatchInterval = 50 * time.Millisecond
	})
	c := ts.mustDial("/ws", ts.login("w", "1"))
	for _, m := range []string{"one", "two", "three"} {
		c.WriteMessage(websocket.TextMessage, []byte(m))
	}
	c.WriteMessage(websocket.BinaryMessage, []byte{0xff})
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
	readClose(t, c)
	eventually(t, "6 events", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 6 })
	want := []string{"connect", "message:one", "message:two", "message:three", "message:b64:/w==", "close:1000:bye"}
	for i, e := range events {
		got := e.Type
		switch {
		case e.Message != nil:
			got += ":" + *e.Message
		case e.MessageBase64 != nil:
			got += ":b64:" + *e.MessageBase64
		case e.Type == "close":
			got += ":" + itoa(int(e.Code)) + ":" + e.Reason
		}
		if got != want[i] || e.User != "w" || e.Context != "1" || e.Node != "test" {
			t.Fatalf("event %d: %+v (%s), want %s", i, e, got, want[i])
		}
	}
	if batches.Load() >= 6 {
		t.Fatalf("events were not batched: %d batches", batches.Load())
	}
}

func TestWebhookOverflowIsCounted(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer backend.Close()
	defer close(block)
	ts := startServer(t, func(c *Config) {
		c.Webhook.URL = backend.URL
		c.Webhook.QueueSize = 5
		c.Webhook.BatchSize = 1
		c.Webhook.Timeout = 200 * time.Millisecond
		c.Webhook.MaxRetries = 0
	})
	c := ts.mustDial("/ws", ts.login("w", "1"))
	for range 50 {
		c.WriteMessage(websocket.TextMessage, []byte("x"))
	}
	ts.token = ""
	eventually(t, "drops counted", func() bool {
		req, _ := http.NewRequest("GET", ts.admin+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(b), `edgews_webhook_events_total{outcome="dropped"}`) &&
			!strings.Contains(string(b), `edgews_webhook_events_total{outcome="dropped"} 0`)
	})
}

func TestCompressionNegotiated(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.Routes = append(c.Routes, RouteConfig{Path: "/z", Echo: true, Compression: CompressionConfig{Enabled: true}})
	})
	d := websocket.Dialer{EnableCompression: true}
	c, resp, err := d.Dial(ts.ws+"/z?session="+ts.login("z", "1"), http.Header{"Origin": {"http://" + ts.Addr().String()}})
	if err != nil {
		t.Fatalf("%v %s", err, respText(resp))
	}
	defer c.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("extension response %q", ext)
	}
	msg := strings.Repeat("compressible text ", 500)
	for range 3 {
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		if got := readText(t, c); got != msg {
			t.Fatal("echo mismatch")
		}
	}
	var st Stats
	ts.api("GET", "/api/v1/stats", nil, &st)
	if r := st.Routes["/z"]; r.BytesIn >= uint64(len(msg)) || r.BytesOut >= uint64(len(msg)) {
		t.Fatalf("wire bytes in %d out %d for three %d-byte messages: not compressed", r.BytesIn, r.BytesOut, len(msg))
	}
	// A route without compression declines the offer.
	c2, resp2, err := d.Dial(ts.ws+"/ws?session="+ts.login("z2", "1"), http.Header{"Origin": {"http://" + ts.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if ext := resp2.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("uncompressed route negotiated %q", ext)
	}
}

// TestFramesRightAfterUpgrade: bytes the client sends together with the
// upgrade request (before the 101) are not lost.
func TestFramesRightAfterUpgrade(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	sess := ts.login("p", "1")
	raw, err := net.Dial("tcp", ts.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	req := "GET /echo?session=" + sess + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	frame := wsproto.AppendClientFrame(nil, true, wsproto.OpText, 0, [4]byte{5, 6, 7, 8}, []byte("early"))
	raw.Write(append([]byte(req), frame...))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 1024)
	for !strings.Contains(string(got), "early") {
		n, err := raw.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := ts.mustDial("/ws", ts.login("r", "5"))
	eventually(t, "registered", func() bool { return ts.reg.total.Load() == 1 })
	cfg := *ts.Config()
	cfg.Routes = append([]RouteConfig(nil), cfg.Routes...)
	cfg.Routes = append(cfg.Routes, RouteConfig{Path: "/new/*"})
	cfg.Cascade.Contexts = map[string]ContextCascadeConfig{"5": {Enabled: boolPtr(false)}}
	cfg.Listen = "127.0.0.1:1"
	restart, err := ts.Reload(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(restart) != 1 || restart[0] != "listen" {
		t.Fatalf("restart needed %v", restart)
	}
	if code, _ := readClose(t, c); code != int(CloseDisabled) {
		t.Fatalf("close %d", code)
	}
	ts.mustDial("/new/thing", ts.login("r", "6"))
	// A broken config is refused and the old one keeps serving.
	bad := *ts.Config()
	bad.Routes = []RouteConfig{{Path: "no-slash"}}
	if _, err := ts.Reload(bad); err == nil || !strings.Contains(err.Error(), "routes[0].path") {
		t.Fatalf("bad reload: %v", err)
	}
	ts.mustDial("/new/other", ts.login("r", "6"))
}
