package server

// Helpers of the hardening tests (hostile_test.go, leak_test.go and the
// *_hardening_test.go files): a probe socket that measures how well other
// sockets are served during an attack, a raw WebSocket client that can break
// the protocol on purpose, and readers for /metrics and /api/v1/stats.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/edgews/edgews/server/internal/wsproto"
	"github.com/edgews/edgews/wasmhost/abi"
)

// probeLimit is the most one probe echo may take during an attack. It is a
// generous bound meant to catch a starved server, not a latency target.
const probeLimit = 2 * time.Second

// probe is an ordinary socket on the echo route that keeps echoing while an
// attack runs, to show that other sockets keep being served.
type probe struct {
	t   *testing.T
	c   *websocket.Conn
	seq int
	// limit overrides probeLimit when set.
	limit time.Duration
}

func (p *probe) bound() time.Duration {
	if p.limit > 0 {
		return p.limit
	}
	return probeLimit
}

// newProbe opens the probe socket on /echo with session sess.
func newProbe(t *testing.T, ts *testServer, sess string) *probe {
	t.Helper()
	return &probe{t: t, c: ts.mustDial("/echo", sess)}
}

// echo sends one message and waits for it to come back within probeLimit.
func (p *probe) echo() (time.Duration, error) {
	p.seq++
	msg := "probe " + strconv.Itoa(p.seq)
	start := time.Now()
	_ = p.c.SetWriteDeadline(start.Add(p.bound()))
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return 0, fmt.Errorf("probe write: %w", err)
	}
	_ = p.c.SetReadDeadline(start.Add(p.bound()))
	_, got, err := p.c.ReadMessage()
	if err != nil {
		return 0, fmt.Errorf("probe echo %d not back within %v: %w", p.seq, p.bound(), err)
	}
	if string(got) != msg {
		return 0, fmt.Errorf("probe echo %d: got %q", p.seq, got)
	}
	return time.Since(start), nil
}

// probePace is the pause between probe echoes, before and during an attack
// alike, so that the two are measured the same way.
const probePace = 5 * time.Millisecond

// measure runs n echoes (the baseline before an attack).
func (p *probe) measure(n int) latencies {
	p.t.Helper()
	var l latencies
	for range n {
		d, err := p.echo()
		if err != nil {
			p.t.Fatal(err)
		}
		l = append(l, d)
		time.Sleep(probePace)
	}
	return l
}

// during runs attack on the calling goroutine while the probe echoes on
// another (pausing probePace between echoes), and at least minEchoes in all. It fails the
// test if any echo fails or takes longer than probeLimit.
func (p *probe) during(attack func()) latencies {
	p.t.Helper()
	const minEchoes, maxEchoes = 5, 100_000
	stop := make(chan struct{})
	type result struct {
		l   latencies
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for i := 0; i < maxEchoes; i++ {
			if i >= minEchoes {
				select {
				case <-stop:
					done <- r
					return
				default:
				}
			}
			d, err := p.echo()
			if err != nil {
				r.err = err
				break
			}
			r.l = append(r.l, d)
			time.Sleep(probePace)
		}
		done <- r
	}()
	attack()
	close(stop)
	var r result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		p.t.Fatal("the probe did not finish within a minute")
	}
	if r.err != nil {
		p.t.Fatalf("during the attack, after %d echoes: %v", len(r.l), r.err)
	}
	return r.l
}

// latencies are probe round trips.
type latencies []time.Duration

func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// report logs one line per attack (grep RESULT in -v output) with the
// probe's latency during the attack relative to before it.
func report(t *testing.T, attack string, before, during latencies, facts ...any) {
	t.Helper()
	ratio := func(a, b time.Duration) string {
		if b <= 0 {
			return "n/a"
		}
		return strconv.FormatFloat(float64(a)/float64(b), 'f', 2, 64)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT %s: probe p50 %v -> %v (x%s), p99 %v -> %v (x%s), max during %v, %d echoes during",
		attack, before.quantile(.5).Round(time.Microsecond), during.quantile(.5).Round(time.Microsecond),
		ratio(during.quantile(.5), before.quantile(.5)),
		before.quantile(.99).Round(time.Microsecond), during.quantile(.99).Round(time.Microsecond),
		ratio(during.quantile(.99), before.quantile(.99)), during.quantile(1).Round(time.Microsecond), len(during))
	for i := 0; i+1 < len(facts); i += 2 {
		fmt.Fprintf(&b, ", %v %v", facts[i], facts[i+1])
	}
	t.Log(b.String())
}

// stats fetches GET /api/v1/stats.
func (ts *testServer) stats() Stats {
	ts.t.Helper()
	var st Stats
	if code := ts.api("GET", "/api/v1/stats?scope=local", nil, &st); code != 200 {
		ts.t.Fatalf("stats: %d", code)
	}
	return st
}

// metricSet is a parsed /metrics scrape.
type metricSet []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape fetches and parses GET /metrics (text format).
func (ts *testServer) scrape() metricSet {
	ts.t.Helper()
	req, _ := http.NewRequest("GET", ts.admin+"/metrics", nil)
	if ts.token != "" {
		req.Header.Set("Authorization", "Bearer "+ts.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	m, err := parseMetrics(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return m
}

func parseMetrics(r io.Reader) (metricSet, error) {
	var out metricSet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s := sample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			for _, kv := range strings.Split(strings.TrimSuffix(s.name[i+1:], "}"), ",") {
				k, val, _ := strings.Cut(kv, "=")
				s.labels[k] = strings.Trim(val, `"`)
			}
			s.name = s.name[:i]
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// sum adds the samples of name whose labels include all of kv (pairs).
func (m metricSet) sum(name string, kv ...string) float64 {
	var total float64
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if s.labels[kv[i]] != kv[i+1] {
				continue next
			}
		}
		total += s.value
	}
	return total
}

// rawConn is a hand-driven WebSocket client: it writes whatever bytes a
// test wants and reads the server's frames itself.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// rawDial connects to addr from source address src ("" for any).
func rawDial(addr, src string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	return d.Dial("tcp", addr)
}

// upgradeRequest builds a WebSocket upgrade request for target (path and
// query) with extra header lines.
func upgradeRequest(target string, extra ...string) string {
	var b strings.Builder
	b.WriteString("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// rawUpgrade sends an upgrade request and reads the answer. On a 101 it
// returns the open connection; otherwise the connection is closed and the
// response (with its body read) is returned with a nil conn.
func rawUpgrade(addr, src, target string, extra ...string) (*rawConn, *http.Response, string, error) {
	nc, err := rawDial(addr, src)
	if err != nil {
		return nil, nil, "", err
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, upgradeRequest(target, extra...)); err != nil {
		nc.Close()
		return nil, nil, "", err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, "", err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		nc.Close()
		return nil, resp, string(body), nil
	}
	_ = nc.SetDeadline(time.Time{})
	return &rawConn{Conn: nc, br: br}, resp, "", nil
}

// send writes a masked client frame.
func (c *rawConn) send(fin bool, op, rsv byte, payload []byte) error {
	_, err := c.Write(wsproto.AppendClientFrame(nil, fin, op, rsv, [4]byte{0x11, 0x22, 0x33, 0x44}, payload))
	return err
}

// serverFrame is a frame the server sent.
type serverFrame struct {
	fin, rsv1 bool
	op        byte
	payload   []byte
}

// readFrame reads one server frame (payloads up to 64 MiB).
func (c *rawConn) readFrame() (serverFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return serverFrame{}, err
	}
	if h[1]&0x80 != 0 {
		return serverFrame{}, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return serverFrame{}, fmt.Errorf("server frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return serverFrame{}, err
	}
	return serverFrame{fin: h[0]&0x80 != 0, rsv1: h[0]&0x40 != 0, op: h[0] & 0x0f, payload: p}, nil
}

// readClose reads frames until the server's close frame (within limit)
// and returns its code and reason; data frames, pings and pongs are
// counted in skipped.
func (c *rawConn) readClose(limit time.Duration) (code int, reason string, skipped int, err error) {
	_ = c.SetReadDeadline(time.Now().Add(limit))
	for range 1_000_000 {
		f, err := c.readFrame()
		if err != nil {
			return 0, "", skipped, fmt.Errorf("no close frame (after %d other frames): %w", skipped, err)
		}
		if f.op != wsproto.OpClose {
			skipped++
			continue
		}
		if len(f.payload) < 2 {
			return int(wsproto.CloseNoStatus), "", skipped, nil
		}
		return int(binary.BigEndian.Uint16(f.payload)), string(f.payload[2:]), skipped, nil
	}
	return 0, "", skipped, errors.New("too many frames before the close")
}

// parallelDo runs f(i) for i in [0, n) on workers goroutines and returns
// the errors (at most 10, in no order) and how many calls failed.
func parallelDo(n, workers int, f func(i int) error) (failed int, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					failed++
					if len(errs) < 10 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return failed, errs
}

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sortedKeys returns m's keys in order (stable test output).
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// echoModule returns a tiny hand-assembled transcoder (ABI 1.0) with pages
// of memory that writes every inbound and outbound message back to its
// socket unchanged. Unlike the Go-built modules it compiles in
// milliseconds, even under the race detector, so a test can afford to
// compile it without a cache.
func echoModule(pages byte) []byte {
	const i32 = 0x7f
	vec := func(items ...[]byte) []byte {
		out := binary.AppendUvarint(nil, uint64(len(items)))
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	name := func(s string) []byte { return append(binary.AppendUvarint(nil, uint64(len(s))), s...) }
	section := func(id byte, body []byte) []byte {
		return append(append([]byte{id}, binary.AppendUvarint(nil, uint64(len(body)))...), body...)
	}
	funcType := func(params, results int) []byte {
		t := []byte{0x60}
		t = append(t, binary.AppendUvarint(nil, uint64(params))...)
		for range params {
			t = append(t, i32)
		}
		t = append(t, binary.AppendUvarint(nil, uint64(results))...)
		for range results {
			t = append(t, i32)
		}
		return t
	}
	i32Const := func(v int32) []byte { // i32.const with a signed LEB128 immediate
		out := []byte{0x41}
		for {
			b := byte(v & 0x7f)
			v >>= 7
			if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
				return append(out, b)
			}
			out = append(out, b|0x80)
		}
	}
	body := func(code ...byte) []byte { // no locals
		b := append([]byte{0}, code...)
		b = append(b, 0x0b)
		return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
	}
	const buf = 1024 // the input buffer edgews_alloc hands out
	// write_frame(flags, buf, len): the message straight back out.
	echo := append(append([]byte{0x20, 0}, i32Const(buf)...), 0x20, 1, 0x10, 0)
	exports := []struct {
		name string
		kind byte
		idx  int
	}{
		{"memory", 2, 0}, {abi.ExportABIVersion, 0, 1}, {abi.ExportAlloc, 0, 2}, {abi.ExportInit, 0, 3},
		{abi.ExportOpen, 0, 4}, {abi.ExportInbound, 0, 5}, {abi.ExportOutbound, 0, 6}, {abi.ExportClose, 0, 7},
		{abi.ExportTimer, 0, 8},
	}
	var exp [][]byte
	for _, e := range exports {
		exp = append(exp, append(append(name(e.name), e.kind), byte(e.idx)))
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, section(1, vec(funcType(0, 1), funcType(1, 1), funcType(2, 1), funcType(3, 1)))...)
	m = append(m, section(2, vec(append(append(name(abi.ImportModule), name(abi.ImportWriteFrame)...), 0x00, 3)))...)
	m = append(m, section(3, vec([]byte{0}, []byte{1}, []byte{1}, []byte{1}, []byte{2}, []byte{2}, []byte{2}, []byte{1}))...)
	m = append(m, section(5, vec([]byte{0x00, pages}))...)
	m = append(m, section(7, vec(exp...))...)
	m = append(m, section(10, vec(
		body(append(i32Const(int32(abi.PackVersion(abi.Major, 0, 0))), 0x0f)...), // edgews_abi_version: a 1.0 guest
		body(append(i32Const(buf), 0x0f)...),                                     // edgews_alloc
		body(append(i32Const(0), 0x0f)...),                                       // edgews_init
		body(append(i32Const(0), 0x0f)...),                                       // edgews_open
		body(echo...),                                                            // edgews_inbound
		body(echo...),                                                            // edgews_outbound
		body(append(i32Const(0), 0x0f)...),                                       // edgews_close
		body(append(i32Const(0), 0x0f)...),                                       // edgews_timer
	))...)
	return m
}
