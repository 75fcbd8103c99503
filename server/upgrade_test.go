package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/edgews/edgews/server/pathfilter"
)

func TestDevRoundTrip(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	sess := ts.login("alice", "1")
	c := ts.mustDial("/ws?foo=bar", sess)

	var ex ExistsResult
	eventually(t, "socket registered", func() bool {
		ts.api("GET", "/api/v1/exists?context=1&user=alice", nil, &ex)
		return ex.Exists
	})
	if ex.Sockets != 1 {
		t.Fatalf("exists: %+v", ex)
	}
	var sr SendResult
	if st := ts.api("POST", "/api/v1/send", `{"context":"1","user":"alice","message":"hello alice"}`, &sr); st != 202 || sr.Sockets != 1 {
		t.Fatalf("send: %d %+v", st, sr)
	}
	if got := readText(t, c); got != "hello alice" {
		t.Fatalf("got %q", got)
	}
	// Path filters.
	ts.api("GET", "/api/v1/exists?context=1&user=alice&path=/socket.io/*", nil, &ex)
	if ex.Exists {
		t.Fatal("exists under a non-matching filter")
	}
	ts.api("GET", "/api/v1/exists?context=1&user=alice&path=/ws", nil, &ex)
	if !ex.Exists {
		t.Fatal("not found under its exact path")
	}
	ts.api("POST", "/api/v1/send", `{"context":"1","user":"alice","path":"/echo","message":"not for /ws"}`, &sr)
	if sr.Sockets != 0 {
		t.Fatalf("send with non-matching filter reached %d sockets", sr.Sockets)
	}
	var errResp map[string]any
	if st := ts.api("GET", "/api/v1/exists?context=1&user=alice&path=/a*b", nil, &errResp); st != 400 || !strings.Contains(errResp["error"].(string), "only allowed as the whole last segment") {
		t.Fatalf("invalid filter: %d %v", st, errResp)
	}
	// Socket listing carries the recorded fields.
	var list struct{ Sockets []SocketInfo }
	ts.api("GET", "/api/v1/sockets?context=1&user=alice", nil, &list)
	if len(list.Sockets) != 1 || list.Sockets[0].Query != "foo=bar&session="+sess || list.Sockets[0].Session != sess || list.Sockets[0].Path != "/ws" {
		t.Fatalf("sockets: %+v", list.Sockets)
	}
	// Stats.
	var st Stats
	ts.api("GET", "/api/v1/stats", nil, &st)
	if st.Sockets != 1 || st.Routes["/ws"].Sockets != 1 || st.MessagesOut != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestEchoRouteAndListeners(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []string
	l := ListenerFuncs{
		Connect: func(s *Socket) {
			mu.Lock()
			events = append(events, "connect "+s.User()+"@"+s.Context()+" "+s.Path()+" q="+s.Query().Get("x"))
			mu.Unlock()
			s.Attributes().Set("greeted", true)
		},
		Message: func(s *Socket, m Message) {
			g, _ := s.Attributes().Get("greeted")
			mu.Lock()
			events = append(events, "message "+m.Type.String()+" "+string(m.Data)+" greeted="+boolStr(g))
			mu.Unlock()
		},
		Close: func(s *Socket, code uint16, reason string) {
			mu.Lock()
			events = append(events, "close "+itoa(int(code))+" "+reason)
			mu.Unlock()
		},
	}
	ts := startServer(t, nil, WithListener(l))
	c := ts.mustDial("/echo?x=1", ts.login("bob", "2"))
	c.WriteMessage(websocket.TextMessage, []byte("ping me"))
	if got := readText(t, c); got != "ping me" {
		t.Fatalf("echo %q", got)
	}
	c.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if typ, data, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage || string(data) != "\x00\x01\x02" {
		t.Fatalf("binary echo: %d %q %v", typ, data, err)
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"))
	readClose(t, c)
	eventually(t, "close event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 4
	})
	want := []string{"connect bob@2 /echo q=1", "message text ping me greeted=true", "message binary \x00\x01\x02 greeted=true", "close 1000 done"}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %q\nwant %q", events, want)
		}
	}
}

func boolStr(v any) string {
	if b, _ := v.(bool); b {
		return "true"
	}
	return "false"
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestUpgradeRejections covers every refusal over real sockets: status,
// body, and the counted reason.
func TestUpgradeRejections(t *testing.T) {
	t.Parallel()
	backendUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer backendUp.Close()
	ts := startServer(t, func(c *Config) {
		c.Routes = append(c.Routes,
			RouteConfig{Path: "/proto", Subprotocols: []string{"chat.v2", "chat.v1"}, RequireSubprotocol: true},
			RouteConfig{Path: "/partner/*", Origins: []string{"https://partner.example", "https://*.trusted.example"}},
		)
		c.Cascade.Contexts = map[string]ContextCascadeConfig{"9": {Enabled: boolPtr(false), Users: map[string]bool{"vip": true}}}
		c.Limits.MaxSocketsPerUser = 1
	})
	alice := ts.login("alice", "1")
	tests := []struct {
		name   string
		path   string
		sess   string
		header http.Header
		status int
		reason string
		body   string
	}{
		{"missing session", "/ws", "", nil, 401, "no_session", `no session: pass the session id in the "session" URL parameter`},
		{"unknown session", "/ws", "deadbeef", nil, 401, "unauthenticated", "the session is not valid"},
		{"foreign origin", "/ws", alice, http.Header{"Origin": {"https://evil.example"}}, 403, "origin", `origin "https://evil.example" may not open sockets here`},
		{"same host other port", "/ws", alice, http.Header{"Origin": {"http://127.0.0.1:1"}}, 403, "origin", "may not open sockets"},
		{"null origin", "/ws", alice, http.Header{"Origin": {"null"}}, 403, "origin", "may not open"},
		{"route origins exclude own host", "/partner/x", alice, nil, 403, "origin", "may not open"},
		{"wildcard origin needs a subdomain", "/partner/x", alice, http.Header{"Origin": {"https://trusted.example"}}, 403, "origin", "may not open"},
		{"disabled context", "/ws", ts.login("carol", "9"), nil, 403, "disabled", "WebSockets are disabled for this user (by the context scope)"},
		{"missing subprotocol", "/proto", alice, http.Header{"Sec-WebSocket-Protocol": {"other"}}, 400, "subprotocol", `none of the offered subprotocols ["other"] is accepted`},
		{"no route", "/nope", alice, nil, 404, "", "no WebSocket route at /nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := ts.dial(tt.path, tt.sess, tt.header)
			if err == nil {
				t.Fatal("upgrade succeeded")
			}
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if tt.reason != "" && resp.Header.Get("X-Edgews-Reject") != tt.reason {
				t.Fatalf("reason header %q, want %q", resp.Header.Get("X-Edgews-Reject"), tt.reason)
			}
		})
	}
	// What is allowed.
	t.Run("no Origin (not a browser)", func(t *testing.T) {
		c, resp, err := (&websocket.Dialer{}).Dial(ts.ws+"/ws?session="+ts.login("n1", "1"), nil)
		if err != nil {
			t.Fatalf("%v %s", err, respText(resp))
		}
		c.Close()
	})
	for _, ok := range []struct {
		name, path, sess string
		header           http.Header
	}{
		{"listed partner origin", "/partner/x", ts.login("p1", "1"), http.Header{"Origin": {"https://partner.example"}}},
		{"wildcard partner origin", "/partner/x", ts.login("p2", "1"), http.Header{"Origin": {"https://a.trusted.example"}}},
		{"user enabled inside a disabled context", "/ws", ts.login("vip", "9"), nil},
		{"subprotocol by server preference", "/proto", ts.login("p3", "1"), http.Header{"Sec-WebSocket-Protocol": {"chat.v1, chat.v2"}}},
	} {
		t.Run(ok.name, func(t *testing.T) {
			c, resp, err := ts.dial(ok.path, ok.sess, ok.header)
			if err != nil {
				t.Fatalf("%v %s", err, respText(resp))
			}
			if ok.path == "/proto" && c.Subprotocol() != "chat.v2" {
				t.Fatalf("subprotocol %q, want the server's preference chat.v2", c.Subprotocol())
			}
			c.Close()
		})
	}
	// The per-user limit (1): alice's no-Origin socket may still be open; use a fresh user.
	dave := ts.login("dave", "1")
	first := ts.mustDial("/ws", dave)
	eventually(t, "first socket registered", func() bool { return ts.reg.count("1", "dave", pathfilter.All) == 1 })
	_, resp, err := ts.dial("/ws", dave, nil)
	if err == nil || resp.StatusCode != 429 {
		t.Fatalf("second socket: %v %s", err, respText(resp))
	}
	first.Close()

	var st Stats
	ts.api("GET", "/api/v1/stats", nil, &st)
	for _, reason := range []string{"no_session", "unauthenticated", "origin", "disabled", "subprotocol", "user_limit"} {
		if st.RejectedUpgrades[reason] == 0 {
			t.Errorf("rejection reason %q not counted: %v", reason, st.RejectedUpgrades)
		}
	}
}

func TestNotAnUpgrade(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	resp, err := http.Get("http://" + ts.Addr().String() + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 426 || resp.Header.Get("Upgrade") != "websocket" || !strings.Contains(string(body), "/ws is a WebSocket endpoint") {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
	}
	// Wrong version.
	req, _ := http.NewRequest("GET", "http://"+ts.Addr().String()+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "8")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 426 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("version: %d %v", resp.StatusCode, resp.Header)
	}
	// Bad key.
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "short")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad key: %d", resp.StatusCode)
	}
}

// TestHTTPVerifierThroughServer: the http verifier against a real backend,
// including the reconnect storm (N concurrent upgrades of one session cost
// one backend call) and an unavailable backend (503).
func TestHTTPVerifierThroughServer(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	var down atomic.Bool
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(150 * time.Millisecond) // keep the call in flight while the storm arrives
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		var req struct{ Session string }
		json.NewDecoder(r.Body).Decode(&req)
		c, _ := r.Cookie("ox-secret")
		if req.Session == "s1" && c != nil && c.Value == "k" {
			io.WriteString(w, `{"user":"u1","context":"c1"}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer backend.Close()
	ts := startServer(t, func(c *Config) {
		c.Dev = false
		c.Session.Verifier = "http"
		c.Session.HTTP.URL = backend.URL
		c.Session.HTTP.ForwardCookies = []string{"ox-*"}
	})
	hdr := func() http.Header { return http.Header{"Cookie": {"ox-secret=k; other=1"}} }

	const storm = 200
	var wg sync.WaitGroup
	var ok atomic.Int64
	conns := make(chan *websocket.Conn, storm)
	for range storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := ts.dial("/ws", "s1", hdr())
			if err == nil {
				ok.Add(1)
				conns <- c
			}
		}()
	}
	wg.Wait()
	close(conns)
	for c := range conns {
		c.Close()
	}
	if ok.Load() != storm {
		t.Fatalf("%d of %d upgrades succeeded", ok.Load(), storm)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d concurrent upgrades of one session made %d backend calls, want 1", storm, calls.Load())
	}
	// Wrong cookie: 401 from the backend.
	if _, resp, err := ts.dial("/ws", "s1", http.Header{"Cookie": {"ox-secret=bad"}}); err == nil || resp.StatusCode != 401 {
		t.Fatalf("wrong cookie: %v %s", err, respText(resp))
	}
	// Backend down: 503, not 401.
	down.Store(true)
	if _, resp, err := ts.dial("/ws", "s2", hdr()); err == nil || resp.StatusCode != 503 {
		t.Fatalf("backend down: %v %s", err, respText(resp))
	}
	backend.Close()
	if _, resp, err := ts.dial("/ws", "s3", hdr()); err == nil || resp.StatusCode != 503 {
		t.Fatalf("backend gone: %v %s", err, respText(resp))
	}
	// The cached session keeps working while the backend is gone.
	c, resp, err := ts.dial("/ws", "s1", hdr())
	if err != nil {
		t.Fatalf("cached session: %v %s", err, respText(resp))
	}
	c.Close()
}

func TestBulkSend(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	a := ts.mustDial("/ws", ts.login("a", "1"))
	b := ts.mustDial("/ws", ts.login("b", "1"))
	eventually(t, "registered", func() bool { return ts.reg.total.Load() == 2 })
	var res BulkResult
	st := ts.api("POST", "/api/v1/send/bulk", `[{"context":"1","user":"a","message":"to a"},{"context":"1","user":"b","message_base64":"AAE="},{"context":"1","message":"no user"},{"context":"1","user":"nobody","message":"x"}]`, &res)
	if st != 202 || res.Accepted != 3 || res.Sockets != 2 || len(res.Errors) != 1 || res.Errors[0].Index != 2 {
		t.Fatalf("%d %+v", st, res)
	}
	if got := readText(t, a); got != "to a" {
		t.Fatalf("%q", got)
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if typ, data, err := b.ReadMessage(); err != nil || typ != websocket.BinaryMessage || string(data) != "\x00\x01" {
		t.Fatalf("%d %q %v", typ, data, err)
	}
	// NDJSON.
	req, _ := http.NewRequest("POST", ts.admin+"/api/v1/send/bulk", strings.NewReader("{\"context\":\"1\",\"user\":\"a\",\"message\":\"n1\"}\n\n{\"context\":\"1\",\"user\":\"a\",\"message\":\"n2\"}\n"))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("ndjson: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, want := range []string{"n1", "n2"} {
		if got := readText(t, a); got != want {
			t.Fatalf("%q", got)
		}
	}
	var e map[string]any
	if st := ts.api("POST", "/api/v1/send/bulk", `{"context":"1"}`, &e); st != 400 {
		t.Fatalf("not an array: %d %v", st, e)
	}
}
