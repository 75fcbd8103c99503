package server

// Hostile-input tests (issue 7): each attack runs in bulk against a real
// server over loopback while a probe socket keeps echoing, and asserts that
// the server stays up, that the probe is served throughout (every echo
// within probeLimit), that no attacker got a socket, and that the right
// counters moved. Each logs a RESULT line with the probe's latency during
// the attack relative to before it; docs/security.md (Results) records them.
//
// These tests do not call t.Parallel: they measure the probe's latency, and
// running them beside the rest of the package would measure the other
// tests instead. Go runs them before the parallel tests start.

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgews/edgews/server/internal/wsproto"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// refusal is one kind of upgrade an attacker sends in bulk, and the status
// and counted reason it must get.
type refusal struct {
	name   string
	target string   // path and query
	header []string // extra header lines
	status int
	reason string // X-Edgews-Reject and the counted reason
}

// bulkRefusals sends each refusal n times over 16 connections at once and
// checks every answer.
func bulkRefusals(t *testing.T, ts *testServer, kinds []refusal, n int) {
	t.Helper()
	addr := ts.Addr().String()
	failed, errs := parallelDo(len(kinds)*n, 16, func(i int) error {
		k := kinds[i%len(kinds)]
		c, resp, body, err := rawUpgrade(addr, "", k.target, k.header...)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		if c != nil {
			c.Close()
			return fmt.Errorf("%s: the upgrade succeeded", k.name)
		}
		if resp.StatusCode != k.status || resp.Header.Get("X-Edgews-Reject") != k.reason {
			return fmt.Errorf("%s: %d %q %q, want %d %q", k.name, resp.StatusCode, resp.Header.Get("X-Edgews-Reject"), body, k.status, k.reason)
		}
		return nil
	})
	if failed > 0 {
		t.Fatalf("%d of %d hostile upgrades were not refused as expected: %v", failed, len(kinds)*n, errs)
	}
}

// checkRefusalCounters checks that each reason counted exactly its share
// of the refusals, in /api/v1/stats and in /metrics, and that no socket was
// opened by any of them.
func checkRefusalCounters(t *testing.T, ts *testServer, kinds []refusal, n int, before Stats, openBefore uint64) map[string]uint64 {
	t.Helper()
	want := map[string]uint64{}
	for _, k := range kinds {
		if k.reason != "" {
			want[k.reason] += uint64(n)
		}
	}
	after := ts.stats()
	m := ts.scrape()
	got := map[string]uint64{}
	for _, reason := range sortedKeys(want) {
		got[reason] = after.RejectedUpgrades[reason] - before.RejectedUpgrades[reason]
		if got[reason] != want[reason] {
			t.Errorf("reason %s counted %d times in /api/v1/stats, want %d", reason, got[reason], want[reason])
		}
		if v := m.sum("edgews_upgrades_rejected_total", "reason", reason); uint64(v) != after.RejectedUpgrades[reason] {
			t.Errorf("/metrics says %v for reason %s, /api/v1/stats %d", v, reason, after.RejectedUpgrades[reason])
		}
	}
	var opened uint64
	for _, r := range after.Routes {
		opened += r.Opened
	}
	if opened != openBefore {
		t.Errorf("%d sockets were opened during the attack", opened-openBefore)
	}
	return got
}

func openedTotal(st Stats) uint64 {
	var n uint64
	for _, r := range st.Routes {
		n += r.Opened
	}
	return n
}

// TestHostileUpgradesDev: forged and replayed (logged out) sessions,
// foreign and null Origins and oversized headers, 1000 of each, 16 at a
// time.
func TestHostileUpgradesDev(t *testing.T) {
	ts := startServer(t, nil)
	p := newProbe(t, ts, ts.login("probe", "p"))
	// A session that was logged out through the admin API, then replayed.
	victim := ts.login("victim", "1")
	vc := ts.mustDial("/ws", victim)
	eventually(t, "victim registered", func() bool { return ts.reg.count("1", "victim", allPaths) == 1 })
	if code := ts.api("DELETE", "/api/v1/sessions/"+victim, nil, nil); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := readClose(t, vc); code != 4401 {
		t.Fatalf("logged-out socket closed with %d", code)
	}
	good := ts.login("alice", "1")
	pad := "X-Pad: " + strings.Repeat("p", 16<<10)
	kinds := []refusal{
		{"forged session", "/ws?session=" + randomHex(16), nil, 401, "unauthenticated"},
		{"replayed logged-out session", "/ws?session=" + victim, nil, 401, "unauthenticated"},
		{"foreign origin", "/ws?session=" + good, []string{"Origin: https://evil.example"}, 403, "origin"},
		{"null origin", "/ws?session=" + good, []string{"Origin: null"}, 403, "origin"},
		{"oversized header", "/ws?session=" + good, []string{pad}, 431, "header_too_large"},
	}
	const n = 1000
	before := p.measure(50)
	st0 := ts.stats()
	during := p.during(func() { bulkRefusals(t, ts, kinds, n) })
	got := checkRefusalCounters(t, ts, kinds, n, st0, openedTotal(st0))
	report(t, "refused upgrades (dev): 1000 each of forged, replayed, foreign origin, null origin, 16KiB header", before, during,
		"counted", got, "sockets lost", 1-ts.reg.total.Load())
	if ts.reg.total.Load() != 1 {
		t.Fatalf("%d sockets open, want only the probe", ts.reg.total.Load())
	}
}

// TestHostileUpgradesJWT: forged, tampered, unsigned (alg none), expired,
// not yet valid and garbage tokens and a foreign Origin, 500 of each, 16 at
// a time.
func TestHostileUpgradesJWT(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Session.Verifier = "jwt"
		c.Session.JWT = JWTVerifierConfig{Keys: []JWTKeyConfig{{Algorithm: "HS256", Secret: testSecret}}, Leeway: time.Millisecond}
	})
	exp := time.Now().Add(time.Hour).Unix()
	valid := signHS(t, jwt.MapClaims{"sub": "ann", "context": "3", "sid": "probe", "exp": exp})
	p := newProbe(t, ts, valid)
	other, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ann", "context": "3", "exp": exp}).
		SignedString([]byte("another secret that is 32 bytes!"))
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "ann", "context": "3", "exp": exp}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// A valid token whose payload is swapped for another user's.
	parts := strings.Split(valid, ".")
	mallory := strings.Split(signHS(t, jwt.MapClaims{"sub": "mallory", "context": "3", "exp": exp}), ".")
	tampered := parts[0] + "." + mallory[1] + "." + parts[2]
	kinds := []refusal{
		{"signed with another key", "/ws?session=" + other, nil, 401, "unauthenticated"},
		{"alg none", "/ws?session=" + none, nil, 401, "unauthenticated"},
		{"tampered payload", "/ws?session=" + tampered, nil, 401, "unauthenticated"},
		{"expired", "/ws?session=" + signHS(t, jwt.MapClaims{"sub": "ann", "context": "3", "exp": time.Now().Add(-time.Minute).Unix()}), nil, 401, "unauthenticated"},
		{"not yet valid", "/ws?session=" + signHS(t, jwt.MapClaims{"sub": "ann", "context": "3", "exp": exp, "nbf": exp - 60}), nil, 401, "unauthenticated"},
		{"garbage", "/ws?session=" + randomHex(8) + "." + randomHex(8) + "." + randomHex(8), nil, 401, "unauthenticated"},
		{"foreign origin", "/ws?session=" + valid, []string{"Origin: https://evil.example"}, 403, "origin"},
	}
	const n = 500
	before := p.measure(50)
	st0 := ts.stats()
	during := p.during(func() { bulkRefusals(t, ts, kinds, n) })
	got := checkRefusalCounters(t, ts, kinds, n, st0, openedTotal(st0))
	report(t, "refused upgrades (jwt): 500 each of other key, alg none, tampered, expired, nbf, garbage, foreign origin", before, during,
		"counted", got, "sockets lost", 1-ts.reg.total.Load())
	if ts.reg.count("3", "mallory", allPaths) != 0 || ts.reg.total.Load() != 1 {
		t.Fatalf("%d sockets open, want only the probe", ts.reg.total.Load())
	}
}

// frameAttack is a byte sequence a client sends after a good upgrade, and
// the close code it must get.
type frameAttack struct {
	name  string
	bytes func() []byte
	code  int
}

func clientFrame(fin bool, op, rsv byte, payload []byte) []byte {
	return wsproto.AppendClientFrame(nil, fin, op, rsv, [4]byte{9, 8, 7, 6}, payload)
}

func malformedFrames() []frameAttack {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	return []frameAttack{
		{"reserved data opcode", func() []byte { return clientFrame(true, 0x3, 0, []byte("x")) }, 1002},
		{"reserved control opcode", func() []byte { return clientFrame(true, 0xB, 0, nil) }, 1002},
		{"RSV1 without extension", func() []byte { return clientFrame(true, wsproto.OpText, 0x40, []byte("x")) }, 1002},
		{"RSV2 and RSV3", func() []byte { return clientFrame(true, wsproto.OpBinary, 0x30, []byte("x")) }, 1002},
		{"unmasked frame", func() []byte { return []byte{0x81, 0x02, 'h', 'i'} }, 1002},
		{"continuation first", func() []byte { return clientFrame(true, wsproto.OpContinuation, 0, []byte("x")) }, 1002},
		{"new message inside a fragmented one", func() []byte {
			return cat(clientFrame(false, wsproto.OpText, 0, []byte("a")), clientFrame(true, wsproto.OpText, 0, []byte("b")))
		}, 1002},
		{"fragmented ping", func() []byte { return clientFrame(false, wsproto.OpPing, 0, nil) }, 1002},
		{"126-byte ping", func() []byte { return clientFrame(true, wsproto.OpPing, 0, make([]byte, 126)) }, 1002},
		{"1-byte close payload", func() []byte { return clientFrame(true, wsproto.OpClose, 0, []byte{3}) }, 1002},
		{"close code 1005", func() []byte { return clientFrame(true, wsproto.OpClose, 0, []byte{0x03, 0xED}) }, 1002},
		{"length with the top bit set", func() []byte {
			return []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
		}, 1002},
		{"invalid UTF-8", func() []byte { return clientFrame(true, wsproto.OpText, 0, []byte("ok \xc3\x28")) }, 1007},
		{"UTF-8 broken across fragments", func() []byte {
			return cat(clientFrame(false, wsproto.OpText, 0, []byte("\xe2\x82")), clientFrame(true, wsproto.OpContinuation, 0, []byte("!")))
		}, 1007},
		{"overlong UTF-8 encoding", func() []byte { return clientFrame(true, wsproto.OpText, 0, []byte{0xC0, 0xAF}) }, 1007},
		{"surrogate half in UTF-8", func() []byte { return clientFrame(true, wsproto.OpText, 0, []byte{0xED, 0xA0, 0x80}) }, 1007},
		{"invalid UTF-8 close reason", func() []byte { return clientFrame(true, wsproto.OpClose, 0, []byte{0x03, 0xE8, 0xff}) }, 1007},
		{"message over max_message_size", func() []byte { return clientFrame(true, wsproto.OpBinary, 0, make([]byte, 4097)) }, 1009},
		{"declared 2^62-byte frame", func() []byte {
			return []byte{0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
		}, 1009},
		{"too many fragments", func() []byte {
			var b []byte
			b = append(b, clientFrame(false, wsproto.OpBinary, 0, []byte("x"))...)
			for range 9 {
				b = append(b, clientFrame(false, wsproto.OpContinuation, 0, []byte("x"))...)
			}
			return b
		}, 1009},
	}
}

// TestHostileMalformedFrames: 200 sockets break the protocol at the same
// moment, ten of each kind; every one is closed with its code.
func TestHostileMalformedFrames(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Limits.MaxFragments = 8
		c.Routes = append(c.Routes, RouteConfig{Path: "/small", MaxMessageSize: 4096, Echo: true})
	})
	p := newProbe(t, ts, ts.login("probe", "p"))
	sess := ts.login("mallory", "1")
	kinds := malformedFrames()
	const each = 10
	n := each * len(kinds)
	conns := make([]*rawConn, n)
	failed, errs := parallelDo(n, 16, func(i int) error {
		c, resp, body, err := rawUpgrade(ts.Addr().String(), "", "/small?session="+sess)
		if err != nil || c == nil {
			return fmt.Errorf("upgrade %d: %v %v %s", i, err, resp, body)
		}
		conns[i] = c
		return nil
	})
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if failed > 0 {
		t.Fatalf("%d upgrades failed: %v", failed, errs)
	}
	eventually(t, "all sockets registered", func() bool { return ts.reg.count("1", "mallory", allPaths) == n })
	want := map[int]int{}
	for i := range n {
		want[kinds[i%len(kinds)].code]++
	}
	before := p.measure(50)
	st0, m0 := ts.stats(), ts.scrape()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	got := map[int]int{}
	during := p.during(func() {
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := kinds[i%len(kinds)]
				<-start
				_, err := c.Write(k.bytes())
				code, reason, _, rerr := c.readClose(15 * time.Second)
				c.Close() // an attacker need not finish the close handshake
				mu.Lock()
				defer mu.Unlock()
				got[code]++
				if err != nil || rerr != nil || code != k.code {
					wrong = append(wrong, fmt.Sprintf("%s: close %d %q (write %v, read %v), want %d", k.name, code, reason, err, rerr, k.code))
				}
			}()
		}
		close(start)
		wg.Wait()
	})
	if len(wrong) > 0 {
		t.Fatalf("%d of %d sockets were not closed as expected:\n%s", len(wrong), n, strings.Join(wrong, "\n"))
	}
	eventually(t, "every attacker gone", func() bool { return ts.reg.count("1", "mallory", allPaths) == 0 })
	var st Stats
	eventually(t, "closes counted", func() bool {
		st = ts.stats()
		return st.Routes["/small"].Closed["protocol_error"]-st0.Routes["/small"].Closed["protocol_error"] == uint64(n)
	})
	m := ts.scrape()
	delta := func(ev string) int {
		return int(m.sum("edgews_socket_events_total", "route", "/small", "event", ev) - m0.sum("edgews_socket_events_total", "route", "/small", "event", ev))
	}
	if delta("protocol_error") != n || delta("too_big") != want[1009] || delta("invalid_utf8") != want[1007] {
		t.Fatalf("events: protocol_error %d too_big %d invalid_utf8 %d, want %d %d %d",
			delta("protocol_error"), delta("too_big"), delta("invalid_utf8"), n, want[1009], want[1007])
	}
	report(t, fmt.Sprintf("malformed frames: %d sockets at once, %d kinds", n, len(kinds)), before, during,
		"closes by code", got, "protocol_error closes", n, "too_big", delta("too_big"), "invalid_utf8", delta("invalid_utf8"),
		"sockets lost", 1-ts.reg.total.Load())
	if ts.reg.total.Load() != 1 {
		t.Fatalf("%d sockets open, want only the probe", ts.reg.total.Load())
	}
}

// deflateRaw compresses data as a permessage-deflate message payload
// (RFC 7692: raw deflate, the final empty block's tail removed).
func deflateRaw(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// TestHostileCompressionBomb: on a route with permessage-deflate and a 64 KiB
// message limit, 40 sockets at once send small frames that inflate to
// 16 MiB (whole, or split over fragments). Each is closed with 1009 and
// counted as too_big; a message that inflates to exactly the limit is still
// delivered.
func TestHostileCompressionBomb(t *testing.T) {
	const limit = 64 << 10
	ts := startServer(t, func(c *Config) {
		c.Routes = append(c.Routes, RouteConfig{Path: "/z", Echo: true, MaxMessageSize: limit,
			Compression: CompressionConfig{Enabled: true}})
	})
	p := newProbe(t, ts, ts.login("probe", "p"))
	sess := ts.login("bomber", "1")
	bomb := deflateRaw(t, make([]byte, 16<<20))
	atLimit := deflateRaw(t, bytes.Repeat([]byte("a"), limit))
	t.Logf("a 16 MiB bomb is %d bytes compressed", len(bomb))
	dialZ := func() (*rawConn, error) {
		c, resp, body, err := rawUpgrade(ts.Addr().String(), "", "/z?session="+sess,
			"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover")
		if err != nil || c == nil {
			return nil, fmt.Errorf("upgrade: %v %v %s", err, resp, body)
		}
		if !strings.HasPrefix(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
			c.Close()
			return nil, fmt.Errorf("compression not negotiated: %q", resp.Header.Get("Sec-WebSocket-Extensions"))
		}
		return c, nil
	}
	// A message that inflates to exactly the limit is delivered.
	ok, err := dialZ()
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	if err := ok.send(true, wsproto.OpText, 0x40, atLimit); err != nil {
		t.Fatal(err)
	}
	ok.SetReadDeadline(time.Now().Add(10 * time.Second))
	if f, err := ok.readFrame(); err != nil || f.op != wsproto.OpText {
		t.Fatalf("a message of exactly the limit: %+v %v", f, err)
	}

	const n = 40
	conns := make([]*rawConn, n)
	failed, errs := parallelDo(n, 16, func(i int) error {
		c, err := dialZ()
		conns[i] = c
		return err
	})
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if failed > 0 {
		t.Fatalf("%d upgrades failed: %v", failed, errs)
	}
	before := p.measure(50)
	st0, m0 := ts.stats(), ts.scrape()
	var wrong atomic.Int64
	var firstErr atomic.Value
	during := p.during(func() {
		failed, errs := parallelDo(n, n, func(i int) error {
			c := conns[i]
			var err error
			if i%2 == 0 {
				err = c.send(true, wsproto.OpBinary, 0x40, bomb)
			} else { // the same bomb over 8 fragments
				step := len(bomb)/8 + 1
				for off, first := 0, true; off < len(bomb) && err == nil; off += step {
					op, rsv := byte(wsproto.OpContinuation), byte(0)
					if first {
						op, rsv, first = wsproto.OpBinary, 0x40, false
					}
					err = c.send(off+step >= len(bomb), op, rsv, bomb[off:min(off+step, len(bomb))])
				}
			}
			code, reason, _, rerr := c.readClose(15 * time.Second)
			c.Close()
			if err != nil || rerr != nil || code != 1009 || reason != "message too big after decompression" {
				return fmt.Errorf("socket %d: close %d %q (write %v, read %v)", i, code, reason, err, rerr)
			}
			return nil
		})
		if failed > 0 {
			wrong.Store(int64(failed))
			firstErr.Store(fmt.Sprint(errs))
		}
	})
	if wrong.Load() > 0 {
		t.Fatalf("%d bombs not closed with 1009: %v", wrong.Load(), firstErr.Load())
	}
	var st Stats
	eventually(t, "bomb closes counted", func() bool {
		st = ts.stats()
		return st.Routes["/z"].Closed["protocol_error"]-st0.Routes["/z"].Closed["protocol_error"] == n
	})
	m := ts.scrape()
	tooBig := m.sum("edgews_socket_events_total", "route", "/z", "event", "too_big") - m0.sum("edgews_socket_events_total", "route", "/z", "event", "too_big")
	if tooBig != n {
		t.Fatalf("too_big moved by %v, want %d", tooBig, n)
	}
	report(t, fmt.Sprintf("compression bomb: %d sockets, %d-byte frames inflating to 16 MiB (limit 64 KiB)", n, len(bomb)), before, during,
		"closed 1009", n, "too_big", tooBig, "sockets lost", 2-ts.reg.total.Load())
	if ts.reg.total.Load() != 2 {
		t.Fatalf("%d sockets open, want the probe and the at-limit socket", ts.reg.total.Load())
	}
}

// TestHostileControlFlood: 20 sockets each send 500 pings (or unsolicited
// pongs) in one burst: closed with 1008 and counted as control_flood. A
// socket that stays under limits.max_control_frames is not.
func TestHostileControlFlood(t *testing.T) {
	ts := startServer(t, nil) // limits.max_control_frames: 50 per second (default)
	p := newProbe(t, ts, ts.login("probe", "p"))
	sess := ts.login("flooder", "1")
	// Under the limit: 40 pings, all answered, and the socket stays.
	calm, _, _, err := rawUpgrade(ts.Addr().String(), "", "/echo?session="+sess)
	if err != nil || calm == nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer calm.Close()
	var burst []byte
	for i := range 40 {
		burst = append(burst, clientFrame(true, wsproto.OpPing, 0, []byte{byte(i)})...)
	}
	burst = append(burst, clientFrame(true, wsproto.OpText, 0, []byte("still here"))...)
	calm.Write(burst)
	calm.SetReadDeadline(time.Now().Add(10 * time.Second))
	pongs := 0
	for i := 0; ; i++ {
		f, err := calm.readFrame()
		if err != nil || i > 40 {
			t.Fatalf("calm socket after %d pongs: %+v %v", pongs, f, err)
		}
		if f.op == wsproto.OpPong {
			pongs++
			continue
		}
		if f.op != wsproto.OpText || string(f.payload) != "still here" || pongs != 40 {
			t.Fatalf("calm socket: %d pongs, then %d %q", pongs, f.op, f.payload)
		}
		break
	}

	const n = 20
	conns := make([]*rawConn, n)
	failed, errs := parallelDo(n, 16, func(i int) error {
		c, resp, body, err := rawUpgrade(ts.Addr().String(), "", "/ws?session="+sess)
		if err != nil || c == nil {
			return fmt.Errorf("upgrade: %v %v %s", err, resp, body)
		}
		conns[i] = c
		return nil
	})
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if failed > 0 {
		t.Fatalf("%d upgrades failed: %v", failed, errs)
	}
	before := p.measure(50)
	st0 := ts.stats()
	var bad atomic.Int64
	var badErr atomic.Value
	during := p.during(func() {
		failed, errs := parallelDo(n, n, func(i int) error {
			op := byte(wsproto.OpPing)
			if i%2 == 1 {
				op = wsproto.OpPong
			}
			var flood []byte
			for j := range 500 {
				flood = append(flood, clientFrame(true, op, 0, []byte{byte(j)})...)
			}
			_, err := conns[i].Write(flood)
			code, reason, _, rerr := conns[i].readClose(15 * time.Second)
			conns[i].Close()
			if err != nil || rerr != nil || code != 1008 || reason != "too many control frames" {
				return fmt.Errorf("socket %d: close %d %q (write %v, read %v)", i, code, reason, err, rerr)
			}
			return nil
		})
		if failed > 0 {
			bad.Store(int64(failed))
			badErr.Store(fmt.Sprint(errs))
		}
	})
	if bad.Load() > 0 {
		t.Fatalf("%d flooders not closed with 1008: %v", bad.Load(), badErr.Load())
	}
	var st Stats
	eventually(t, "floods counted", func() bool {
		st = ts.stats()
		return st.Closed["control_flood"]-st0.Closed["control_flood"] == n
	})
	m := ts.scrape()
	if v := m.sum("edgews_socket_events_total", "route", "/ws", "event", "control_flood"); v != n {
		t.Fatalf("control_flood events on /ws: %v, want %d", v, n)
	}
	report(t, "control-frame flood: 20 sockets x 500 pings/pongs in one burst", before, during,
		"closed 1008 control_flood", n, "sockets lost", 2-ts.reg.total.Load())
	if ts.reg.total.Load() != 2 {
		t.Fatalf("%d sockets open, want the probe and the calm socket", ts.reg.total.Load())
	}
}
