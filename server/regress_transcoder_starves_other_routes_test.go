package server

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// TestSlowTranscoderDoesNotStallOtherRoutes: sockets on a route whose
// transcoder calls run to their time budget must not hold up sockets on
// other routes. 128 sockets each make the hostile module sleep at once (each
// call ends at call_timeout, 500ms, and closes its socket with 1011); a
// probe on /echo, a route without a transcoder, must keep echoing within
// 4s. Sized so the bug below misses the bound by a wide margin (calls held
// on the 8 epoll workers of a 2-core machine: 128/8 x 500ms = 8s without an
// echo) while the fixed server, whose attack lasts about 128/32 x 500ms =
// 2s, stays well inside it on a loaded machine.
func TestSlowTranscoderDoesNotStallOtherRoutes(t *testing.T) {
	// Regression (found by the hardening tests, since fixed):
	// transcoder calls run on the epoll workers (4 per CPU) that read every socket of the node, and a
	// call that finds the module's instance pool (max_instances, default 2 per CPU) busy waits for an
	// instance on that worker. Sockets that keep a transcoder busy for its call_timeout (here 128
	// sockets, each making the hostile module sleep) therefore occupy all workers, and a socket on a
	// route without any transcoder is not read for seconds: the probe's echo misses the 2s bound.
	// Expected: a slow or hostile transcoder costs its own route only, e.g. run transcoder calls off
	// the epoll workers (a per-module queue and goroutines bounded by max_instances), or wait for an
	// instance without holding a worker.
	file := hostileModule(t)
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"bad": {File: file, CallTimeout: 500 * time.Millisecond, MaxInstances: 32}},
			RouteConfig{Path: "/bad", Echo: true, Transcoder: "bad"})
	})
	p := newProbe(t, ts, ts.login("probe", "p"))
	p.limit = 4 * time.Second
	const n = 128
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = ts.mustDial("/bad", ts.login(fmt.Sprintf("sleeper%d", i), "1"))
	}
	before := p.measure(20)
	during := p.during(func() {
		for i, c := range conns {
			if err := c.WriteMessage(websocket.TextMessage, []byte("sleep")); err != nil {
				t.Errorf("sleeper %d: %v", i, err)
			}
		}
		// Every sleeper is closed with 1011 once its call times out. The
		// calls take turns on the module's 32 instances, not in order, and
		// each timed-out instance is replaced (slow under -race on a busy
		// machine): give the whole attack 30s rather than readClose's 10s
		// per socket, which a socket served in the last turn could miss.
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						if _, ok := err.(*websocket.CloseError); !ok {
							t.Errorf("sleeper %d: connection ended without a close frame: %v", i, err)
						}
						return
					}
				}
			}()
		}
		wg.Wait()
	})
	report(t, "128 sockets keep a transcoder busy for its call_timeout", before, during)
}
