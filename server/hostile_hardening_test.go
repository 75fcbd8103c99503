package server

// More hostile-input tests (issue 7), written like those in hostile_test.go:
// clients that never read, and the hostile WASM module under concurrent
// load. Not parallel, for the same reason: they measure the probe.

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/edgews/edgews/server/internal/wsproto"
)

// TestHostileSlowConsumers: 8 clients that never read and one that reads
// are sent the same stream of 16 KiB messages. With on_queue_full: close
// each slow one is closed with 1008 once its queue overflows, and counted;
// with drop_oldest each stays open, its oldest messages are dropped and
// counted, and the newest still arrives. The reading client gets every
// message either way.
func TestHostileSlowConsumers(t *testing.T) {
	for _, policy := range []string{"close", "drop_oldest"} {
		t.Run(policy, func(t *testing.T) {
			ts := startServer(t, func(c *Config) {
				c.Limits.OnQueueFull = policy
				c.Limits.QueueMessages = 32
				c.Limits.QueueBytes = 256 << 10
				c.Limits.WriteTimeout = time.Minute // only the full queue may end a socket
				c.Limits.CloseTimeout = 20 * time.Second
			})
			p := newProbe(t, ts, ts.login("probe", "p"))
			sess := ts.login("slow", "1")
			const n = 8
			conns := make([]*rawConn, n)
			for i := range conns {
				c, resp, body, err := rawUpgrade(ts.Addr().String(), "", "/ws?session="+sess)
				if err != nil || c == nil {
					t.Fatalf("upgrade: %v %v %s", err, resp, body)
				}
				defer c.Close()
				conns[i] = c
			}
			fast := ts.mustDial("/ws", ts.login("fast", "1"))
			eventually(t, "sockets registered", func() bool { return ts.reg.total.Load() == n+2 })
			end := []byte("end of stream")
			fastGot := make(chan int, 1)
			go func() {
				fast.SetReadDeadline(time.Now().Add(time.Minute))
				for got := 0; ; got++ {
					_, m, err := fast.ReadMessage()
					if err != nil || bytes.Equal(m, end) {
						fastGot <- got
						return
					}
				}
			}()
			msg := Message{Type: BinaryMessage, Data: bytes.Repeat([]byte("s"), 16<<10)}
			slowT := Target{Context: "1", User: "slow", Local: true}
			fastT := Target{Context: "1", User: "fast", Local: true}
			before := p.measure(50)
			st0 := ts.stats()
			slowClosed := &ts.book.route("/ws").conn.SlowClosed
			slow0 := slowClosed.Load()
			sent := 0
			during := p.during(func() {
				// Paced so the writers keep up with a reader: only a
				// socket whose kernel buffers are full (a few MiB) backs
				// up into its queue. With the close policy it stops once
				// every slow socket is being closed.
				for ; sent < 1500; sent++ {
					if policy == "close" && slowClosed.Load()-slow0 == n {
						break
					}
					for _, target := range []Target{slowT, fastT} {
						if _, err := ts.Send(t.Context(), target, msg); err != nil {
							t.Errorf("send: %v", err)
							return
						}
					}
					if sent%4 == 3 {
						time.Sleep(time.Millisecond)
					}
				}
			})
			if _, err := ts.Send(t.Context(), fastT, Message{Type: TextMessage, Data: end}); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-fastGot:
				if got != sent {
					t.Fatalf("the reading socket got %d of %d messages", got, sent)
				}
			case <-time.After(time.Minute):
				t.Fatal("the reading socket did not finish")
			}
			var st Stats
			switch policy {
			case "close":
				if got := slowClosed.Load() - slow0; got != n {
					t.Fatalf("%d of %d slow sockets overflowed after %d sends", got, n, sent)
				}
				// Each client, reading at last (within close_timeout),
				// finds the close frame behind what its buffers hold.
				for i, c := range conns {
					code, reason, skipped, err := c.readClose(20 * time.Second)
					if err != nil || code != 1008 || reason != "slow consumer: outbound queue full" {
						t.Fatalf("slow socket %d: close %d %q after %d frames: %v", i, code, reason, skipped, err)
					}
					c.Close()
				}
				eventually(t, "slow sockets gone", func() bool { return ts.reg.count("1", "slow", allPaths) == 0 })
				eventually(t, "slow consumers counted", func() bool {
					st = ts.stats()
					return st.Closed["slow_consumer"]-st0.Closed["slow_consumer"] == n
				})
				m := ts.scrape()
				if v := m.sum("edgews_socket_events_total", "route", "/ws", "event", "slow_consumer"); v != n {
					t.Fatalf("slow_consumer events %v, want %d", v, n)
				}
			case "drop_oldest":
				if got := ts.reg.count("1", "slow", allPaths); got != n {
					t.Fatalf("%d of %d slow sockets left under drop_oldest", got, n)
				}
				if _, err := ts.Send(t.Context(), slowT, Message{Type: TextMessage, Data: end}); err != nil {
					t.Fatal(err)
				}
				for i, c := range conns {
					c.SetReadDeadline(time.Now().Add(20 * time.Second))
					frames := 0
					for ; ; frames++ {
						f, err := c.readFrame()
						if err != nil || frames > sent {
							t.Fatalf("slow socket %d after %d frames: %v", i, frames, err)
						}
						if f.op == wsproto.OpText && bytes.Equal(f.payload, end) {
							break
						}
					}
					if frames >= sent {
						t.Fatalf("slow socket %d received all %d messages: nothing was dropped", i, sent)
					}
				}
				st = ts.stats()
				if st.Closed["slow_consumer"] != 0 || st.DroppedOut == st0.DroppedOut {
					t.Fatalf("drop_oldest: slow_consumer closes %d, dropped %d", st.Closed["slow_consumer"], st.DroppedOut-st0.DroppedOut)
				}
			}
			report(t, fmt.Sprintf("slow consumers (%s): 8 sockets that never read, one that reads, %d sends of 16 KiB", policy, sent), before, during,
				"slow_consumer closes", st.Closed["slow_consumer"]-st0.Closed["slow_consumer"], "dropped_out", st.DroppedOut-st0.DroppedOut,
				"reading socket got", sent)
			if _, err := p.echo(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHostileWASMUnderLoad: the hostile module serves 6 well-behaved
// sockets that echo without pause while 24 sockets attack it, in three
// waves of 8 at once (one of each misbehaviour). Every attacker is closed
// with 1011 and counted by kind; the well-behaved sockets lose nothing; the
// probe on a route without a transcoder is served throughout. (Many more
// slow calls at once stall the other routes too: see
// BUG_transcoder_starves_other_routes_test.go.)
func TestHostileWASMUnderLoad(t *testing.T) {
	file := hostileModule(t)
	ts := startServer(t, func(c *Config) {
		withTranscoders(c, map[string]TranscoderConfig{"bad": {File: file, CallTimeout: 300 * time.Millisecond, MaxMemory: 8 << 20, MaxEmit: 256 << 10}},
			RouteConfig{Path: "/bad", Echo: true, Transcoder: "bad"})
	})
	p := newProbe(t, ts, ts.login("probe", "p"))
	const good = 6
	goodConns := make([]*websocket.Conn, good)
	for i := range goodConns {
		goodConns[i] = ts.mustDial("/bad", ts.login(fmt.Sprintf("good%d", i), "1"))
	}
	behaviours := []string{"loop", "recurse", "bomb", "trap", "badptr", "flood", "exit", "sleep"}
	const rounds = 3
	attackers := make([]*websocket.Conn, len(behaviours)*rounds)
	for i := range attackers {
		attackers[i] = ts.mustDial("/bad", ts.login(fmt.Sprintf("bad%d", i), "1"))
	}
	before := p.measure(50)
	st0 := ts.stats()
	var served atomic.Int64
	var slowest atomic.Int64
	stop := make(chan struct{})
	goodErr := make(chan error, good)
	var wg sync.WaitGroup
	for i, c := range goodConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1_000_000; j++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := fmt.Sprintf("good %d-%d", i, j)
				start := time.Now()
				c.SetReadDeadline(start.Add(15 * time.Second))
				if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					goodErr <- err
					return
				}
				if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
					goodErr <- fmt.Errorf("good socket %d message %d: %q %v", i, j, got, err)
					return
				}
				if d := time.Since(start); int64(d) > slowest.Load() {
					slowest.Store(int64(d))
				}
				served.Add(1)
			}
		}()
	}
	var wrong []string
	var mu sync.Mutex
	during := p.during(func() {
		var aw sync.WaitGroup
		for i, c := range attackers {
			if i > 0 && i%len(behaviours) == 0 {
				aw.Wait() // the next wave
			}
			aw.Add(1)
			go func() {
				defer aw.Done()
				b := behaviours[i%len(behaviours)]
				c.WriteMessage(websocket.TextMessage, []byte(b))
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				for range 100_000 { // the flood behaviour may send frames before its close
					_, _, err := c.ReadMessage()
					if err == nil {
						continue
					}
					if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1011 {
						mu.Lock()
						wrong = append(wrong, fmt.Sprintf("%s: %v", b, err))
						mu.Unlock()
					}
					return
				}
				mu.Lock()
				wrong = append(wrong, b+": no close after 100,000 messages")
				mu.Unlock()
			}()
		}
		aw.Wait()
	})
	before2 := served.Load()
	eventually(t, "the good sockets still served", func() bool { return served.Load() > before2+good })
	close(stop)
	wg.Wait()
	select {
	case err := <-goodErr:
		t.Fatalf("a well-behaved socket failed: %v", err)
	default:
	}
	if len(wrong) > 0 {
		t.Fatalf("attackers not closed with 1011: %v", wrong)
	}
	var list struct{ Transcoders []TranscoderInfo }
	ts.api("GET", "/api/v1/transcoders", nil, &list)
	f := list.Transcoders[0].Failures
	var total uint64
	for _, v := range f {
		total += v
	}
	st := ts.stats()
	closed := st.Closed["transcoder"] - st0.Closed["transcoder"]
	if closed != uint64(len(attackers)) || total < uint64(len(attackers)) || f["bad_pointer"] < rounds || f["emit_limit"] < rounds || f["trap"] < rounds {
		t.Fatalf("transcoder closes %d, failures by kind %v (want %d attackers counted)", closed, f, len(attackers))
	}
	if ts.reg.total.Load() != good+1 {
		t.Fatalf("%d sockets open, want the %d good ones and the probe", ts.reg.total.Load(), good)
	}
	report(t, fmt.Sprintf("hostile WASM: %d attackers (%d waves of %d behaviours at once) beside %d busy good sockets", len(attackers), rounds, len(behaviours), good), before, during,
		"closed 1011", closed, "failures", f, "good echoes", served.Load(), "slowest good echo", time.Duration(slowest.Load()).Round(time.Millisecond), "good sockets lost", 0)
}
