package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/edgews/edgews/server/internal/wsproto"
	"github.com/edgews/edgews/transcoders/buildwasm"
	"github.com/edgews/edgews/transcoders/builtin"
)

var (
	hostileOnce sync.Once
	hostileWasm string
	hostileErr  error
)

// hostileModule builds transcoders/hostile once per test binary.
func hostileModule(t *testing.T) string {
	t.Helper()
	hostileOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgews-hostile")
		if err != nil {
			hostileErr = err
			return
		}
		hostileWasm = filepath.Join(dir, "hostile.wasm")
		root, _ := filepath.Abs("..")
		hostileErr = buildwasm.Build(root, "./transcoders/hostile", hostileWasm)
	})
	if hostileErr != nil {
		t.Fatal(hostileErr)
	}
	return hostileWasm
}

func withTranscoders(c *Config, trs map[string]TranscoderConfig, routes ...RouteConfig) {
	c.Transcoders = trs
	c.WASM.CacheDir = buildwasm.TestCacheDir()
	c.Routes = append(c.Routes, routes...)
}

func TestIdentityTranscoderEcho(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"id": {Builtin: "identity"}}, RouteConfig{Path: "/id", Echo: true, Transcoder: "id"})
	})
	c := ts.mustDial("/id", ts.login("i", "1"))
	for i := range 50 {
		msg := fmt.Sprintf("through the guest %d", i)
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		if got := readText(t, c); got != msg {
			t.Fatalf("%q", got)
		}
	}
	c.WriteMessage(websocket.BinaryMessage, []byte{0, 0xff})
	if typ, data, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage || string(data) != "\x00\xff" {
		t.Fatalf("binary: %d %q %v", typ, data, err)
	}
	// A send from the backend goes through the guest's outbound too.
	ts.api("POST", "/api/v1/send", `{"context":"1","user":"i","message":"from backend"}`, nil)
	if got := readText(t, c); got != "from backend" {
		t.Fatalf("%q", got)
	}
	var list struct{ Transcoders []TranscoderInfo }
	ts.api("GET", "/api/v1/transcoders", nil, &list)
	if len(list.Transcoders) != 1 || list.Transcoders[0].Calls < 100 || list.Transcoders[0].Source != "builtin:identity" {
		t.Fatalf("transcoders %+v", list.Transcoders)
	}
}

// TestHostileTranscoder: every misbehaviour costs only its own socket
// (closed with 1011), shows in the counters, and a well-behaved socket on
// the same module keeps being served throughout.
func TestHostileTranscoder(t *testing.T) {
	t.Parallel()
	file := hostileModule(t)
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"bad": {File: file, CallTimeout: 300 * time.Millisecond, MaxMemory: 8 << 20, MaxEmit: 256 << 10}},
			RouteConfig{Path: "/bad", Echo: true, Transcoder: "bad"})
	})
	good := ts.mustDial("/bad", ts.login("good", "1"))
	var served atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			msg := fmt.Sprintf("fine %d", i)
			if err := good.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				done <- err
				return
			}
			good.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, got, err := good.ReadMessage()
			if err != nil || string(got) != msg {
				done <- fmt.Errorf("good socket: %q %v", got, err)
				return
			}
			served.Add(1)
		}
	}()
	for _, behaviour := range []string{"loop", "recurse", "bomb", "trap", "badptr", "flood", "exit", "sleep"} {
		c := ts.mustDial("/bad", ts.login("victim-"+behaviour, "1"))
		before := served.Load()
		c.WriteMessage(websocket.TextMessage, []byte(behaviour))
		code, reason := readClose(t, c)
		if code != 1011 {
			t.Fatalf("%s: close %d %q, want 1011", behaviour, code, reason)
		}
		t.Logf("%-8s -> 1011 %q", behaviour, reason)
		eventually(t, "the good socket served meanwhile", func() bool { return served.Load() > before })
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var list struct{ Transcoders []TranscoderInfo }
	ts.api("GET", "/api/v1/transcoders", nil, &list)
	f := list.Transcoders[0].Failures
	var total uint64
	for _, v := range f {
		total += v
	}
	// loop, recurse and sleep run out of time; the bomb hits the memory cap
	// (or, on a starved machine, the time budget first).
	if total < 8 || f["timeout"] < 3 || f["timeout"]+f["memory_limit"] < 4 || f["emit_limit"] < 1 || f["bad_pointer"] < 1 || f["trap"] < 2 {
		t.Fatalf("failures by kind %v", f)
	}
	var st Stats
	eventually(t, "8 transcoder closes counted", func() bool {
		ts.api("GET", "/api/v1/stats", nil, &st)
		return st.Closed["transcoder"] >= 8
	})
}

// TestTranscoderHotSwapUnderTraffic: swapping the module (admin PUT, file
// watch) loses no socket and no message; a broken module is refused and
// the old one keeps serving.
func TestTranscoderHotSwapUnderTraffic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "echo.wasm")
	os.WriteFile(file, builtin.Identity(), 0o600)
	hostile, _ := os.ReadFile(hostileModule(t)) // delivers ordinary messages unchanged
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"hs": {File: file, Watch: true}}, RouteConfig{Path: "/hs", Echo: true, Transcoder: "hs"})
	})
	const sockets = 4
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var echoed atomic.Int64
	errs := make(chan error, sockets)
	for i := range sockets {
		c := ts.mustDial("/hs", ts.login(fmt.Sprintf("u%d", i), "1"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := fmt.Sprintf("%d-%d", i, j)
				c.WriteMessage(websocket.TextMessage, []byte(msg))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, got, err := c.ReadMessage()
				if err != nil || string(got) != msg {
					errs <- fmt.Errorf("socket %d message %d: %q %v", i, j, got, err)
					return
				}
				echoed.Add(1)
			}
		}()
	}
	progress := func(what string) {
		n := echoed.Load()
		eventually(t, what, func() bool { return echoed.Load() > n+20 })
	}
	progress("traffic before the swaps")

	// Swap through the admin API.
	req := func(body []byte) (int, map[string]any) {
		var out map[string]any
		st := ts.api("PUT", "/api/v1/transcoders/hs", string(body), &out)
		return st, out
	}
	if st, out := req(hostile); st != 200 || out["status"] != "swapped" {
		t.Fatalf("PUT: %d %v", st, out)
	}
	progress("traffic after the admin swap")
	if st, out := req([]byte("\x00asm garbage")); st != 422 || !strings.Contains(fmt.Sprint(out["error"]), "keeps serving") {
		t.Fatalf("broken PUT: %d %v", st, out)
	}
	progress("traffic after a refused swap")

	// Swap by replacing the watched file, then break it.
	os.WriteFile(file+".tmp", builtin.Identity(), 0o600)
	os.Rename(file+".tmp", file)
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(file, append(builtin.Identity(), 0), 0o600) // different bytes, still... invalid (trailing byte)
	progress("traffic after file changes")
	var list struct{ Transcoders []TranscoderInfo }
	eventually(t, "file swap noticed", func() bool {
		ts.api("GET", "/api/v1/transcoders", nil, &list)
		return list.Transcoders[0].Swaps >= 1
	})
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if ts.reg.total.Load() != sockets {
		t.Fatalf("%d sockets open, want %d: a swap lost sockets", ts.reg.total.Load(), sockets)
	}
	var st Stats
	ts.api("GET", "/api/v1/stats", nil, &st)
	if st.Closed["transcoder"] != 0 {
		t.Fatalf("swaps closed sockets: %v", st.Closed)
	}
}

// TestSocketIOTimersThroughServer: the socketio transcoder's heartbeat runs
// on server timers: EIO=4 sends the open packet, pings every interval,
// and a client that stops answering is closed.
func TestSocketIOTimersThroughServer(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"socketio": {Builtin: "socketio", Config: `{"pingInterval":150,"pingTimeout":150}`}},
			RouteConfig{Path: "/socket.io/*", Transcoder: "socketio"})
	})
	c := ts.mustDial("/socket.io/?EIO=4&transport=websocket", ts.login("sio", "1"))
	open := readText(t, c)
	if !strings.HasPrefix(open, `0{"sid":`) || !strings.Contains(open, `"pingInterval":150`) {
		t.Fatalf("open packet %q", open)
	}
	c.WriteMessage(websocket.TextMessage, []byte("40"))
	if got := readText(t, c); !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("namespace connect: %q", got)
	}
	for range 3 {
		if got := readText(t, c); got != "2" {
			t.Fatalf("expected a ping, got %q", got)
		}
		c.WriteMessage(websocket.TextMessage, []byte("3"))
	}
	// Stop answering: the transcoder closes the socket.
	if got := readText(t, c); got != "2" {
		t.Fatalf("expected a ping, got %q", got)
	}
	code, reason := readClose(t, c)
	if code == 1000 || code == 0 {
		t.Fatalf("silent client closed with %d %q", code, reason)
	}
	t.Logf("silent client closed with %d %q", code, reason)
}

// TestTranscoderCloseDropsRestCounted: three messages arrive in one read;
// the transcoder asks to close on the second, so the third is never
// handled. It must be counted (dropped_in), not lost silently.
func TestTranscoderCloseDropsRestCounted(t *testing.T) {
	t.Parallel()
	file := hostileModule(t)
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"bad": {File: file}},
			RouteConfig{Path: "/bad", Echo: true, Transcoder: "bad"})
	})
	sess := ts.login("dropper", "1")
	c, resp, body, err := rawUpgrade(ts.Addr().String(), "", "/bad?session="+sess)
	if err != nil || c == nil {
		t.Fatalf("upgrade: %v %v %s", err, resp, body)
	}
	defer c.Close()
	var frames []byte
	for _, m := range []string{"one", "close", "three"} {
		frames = wsproto.AppendClientFrame(frames, true, wsproto.OpText, 0, [4]byte{1, 2, 3, 4}, []byte(m))
	}
	if _, err := c.Write(frames); err != nil { // one write: one read round
		t.Fatal(err)
	}
	code, reason, skipped, err := c.readClose(10 * time.Second)
	if err != nil || code != 4000 {
		t.Fatalf("close %d %q (after %d frames), %v; want 4000", code, reason, skipped, err)
	}
	if skipped != 1 { // the echo of "one"
		t.Fatalf("%d frames before the close, want the echo of the first message only", skipped)
	}
	eventually(t, "the third message counted as dropped", func() bool {
		r := ts.stats().Routes["/bad"]
		return r.DroppedIn == 1 && r.MessagesIn == 3
	})
	if m := ts.scrape().sum("edgews_inbound_dropped_total", "route", "/bad"); m != 1 {
		t.Fatalf("edgews_inbound_dropped_total = %v, want 1", m)
	}
}

// TestTranscoderRoundEndsBeforeProtocolClose: messages that arrived before
// a protocol error (or the peer's close frame) in the same read are still
// run through the transcoder and echoed ahead of the close frame. Batching
// once held them until the round's end, found the socket closing and
// dropped them (Autobahn 3.2, 4.1.3-4.1.5, 4.2.3, 4.2.4 and 5.15 went
// NON-STRICT on the identity route).
func TestTranscoderRoundEndsBeforeProtocolClose(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"id": {Builtin: "identity"}}, RouteConfig{Path: "/id", Echo: true, Transcoder: "id"})
	})
	sess := ts.login("r", "1")
	for _, tc := range []struct {
		name string
		tail []byte
		code int
	}{
		{"protocol error", clientFrame(true, wsproto.OpText, 0x20, []byte("rsv2")), 1002},
		{"peer close", clientFrame(true, wsproto.OpClose, 0, wsproto.ClosePayload(1000, "bye")), 1000},
	} {
		c, _, _, err := rawUpgrade(ts.Addr().String(), "", "/id?session="+sess)
		if err != nil || c == nil {
			t.Fatalf("%s: upgrade: %v", tc.name, err)
		}
		// Both messages, then the tail, in one write: one read round.
		msg := append(clientFrame(true, wsproto.OpText, 0, []byte("first")), clientFrame(true, wsproto.OpText, 0, []byte("second"))...)
		c.Write(append(msg, tc.tail...))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for _, want := range []string{"first", "second"} {
			f, err := c.readFrame()
			if err != nil || f.op != wsproto.OpText || string(f.payload) != want {
				t.Fatalf("%s: got %d %q, %v; want the echo %q before the close", tc.name, f.op, f.payload, err, want)
			}
		}
		if code, _, skipped, err := c.readClose(10 * time.Second); err != nil || code != tc.code || skipped != 0 {
			t.Fatalf("%s: close %d (after %d frames), %v; want %d", tc.name, code, skipped, err, tc.code)
		}
		c.Close()
	}
}
