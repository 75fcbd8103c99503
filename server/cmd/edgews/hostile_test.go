package main

// Hostile-input tests that need a separate edgews process: 10,000 half-open
// upgrade requests (a slowloris) hold 10,000 of the server's files, more
// than a test process shares comfortably with its own 10,000 client ends
// (the open-file limit here is 20,000 per process).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// scrapeMetric returns the sum of the samples of name whose label text
// contains label (e.g. `reason="ip_pending"`, or "" for any).
func scrapeMetric(t *testing.T, admin, name, label string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		if label != "" && !strings.Contains(line, label) {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			total += v
		}
	}
	return total
}

// probeLimit bounds every probe echo during an attack.
const probeLimit = 2 * time.Second

// echoProbe is a socket that keeps echoing during an attack.
type echoProbe struct {
	c   *websocket.Conn
	seq int
}

func (p *echoProbe) echo() (time.Duration, error) {
	p.seq++
	msg := "probe " + strconv.Itoa(p.seq)
	start := time.Now()
	p.c.SetWriteDeadline(start.Add(probeLimit))
	p.c.SetReadDeadline(start.Add(probeLimit))
	if err := p.c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return 0, err
	}
	_, got, err := p.c.ReadMessage()
	if err != nil {
		return 0, fmt.Errorf("probe echo %d not back within %v: %w", p.seq, probeLimit, err)
	}
	if string(got) != msg {
		return 0, fmt.Errorf("probe echo %d: %q", p.seq, got)
	}
	return time.Since(start), nil
}

// run echoes (5ms apart) until stop is closed, at least min times.
func (p *echoProbe) run(stop <-chan struct{}, min int) ([]time.Duration, error) {
	var l []time.Duration
	for i := 0; i < 1_000_000; i++ {
		if i >= min {
			select {
			case <-stop:
				return l, nil
			default:
			}
		}
		d, err := p.echo()
		if err != nil {
			return l, err
		}
		l = append(l, d)
		time.Sleep(5 * time.Millisecond)
	}
	return l, nil
}

func quantile(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// TestHalfOpenUpgrades: 10,000 connections from 100 loopback addresses
// each send the start of an upgrade request and never finish it. Without
// limits.max_pending_per_ip the server holds all of them and drops them at
// limits.handshake_timeout (408, counted as handshake_timeout); with
// max_pending_per_ip: 20 it holds 20 per address and refuses the rest at
// once with 429, counted as ip_pending.
// Either way a probe socket is served throughout and a new client from
// another address can connect. Not parallel: it uses half of this process's
// open-file limit.
func TestHalfOpenUpgrades(t *testing.T) {
	const ips, perIP = 100, 100
	const total = ips * perIP
	// Go raises the soft open-file limit to the hard one, in this process
	// and in edgews; each needs room for the 10,000 connections.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Max < total+1000 {
		t.Skipf("needs an open-file limit of at least %d (hard limit %d, %v)", total+1000, lim.Max, err)
	}
	for _, tc := range []struct {
		name       string
		maxPending int
	}{{"no pending limit", 0}, {"max_pending_per_ip 20", 20}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "edgews.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf(`dev: true
routes: [{path: /echo, echo: true}, {path: /ws}]
limits: {handshake_timeout: 10s, max_pending_per_ip: %d}
log: {level: warn}
`, tc.maxPending)), 0o600)
			p := startBinary(t, "--config", cfg)
			sess := devLogin(t, p.listen, "probe", "1")
			pc, _, err := websocket.DefaultDialer.Dial("ws://"+p.listen+"/echo?session="+sess, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			probe := &echoProbe{c: pc}
			var before []time.Duration
			for range 50 {
				d, err := probe.echo()
				if err != nil {
					t.Fatal(err)
				}
				before = append(before, d)
				time.Sleep(5 * time.Millisecond)
			}
			fds0 := scrapeMetric(t, p.admin, "process_open_fds", "")
			rss0 := scrapeMetric(t, p.admin, "process_resident_memory_bytes", "")
			pending0 := scrapeMetric(t, p.admin, "edgews_upgrades_rejected_total", `reason="ip_pending"`)
			timeouts0 := scrapeMetric(t, p.admin, "edgews_upgrades_rejected_total", `reason="handshake_timeout"`)

			stop := make(chan struct{})
			type probeResult struct {
				l   []time.Duration
				err error
			}
			probeDone := make(chan probeResult, 1)
			go func() {
				l, err := probe.run(stop, 5)
				probeDone <- probeResult{l, err}
			}()
			partial := "GET /ws?session=" + sess + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
			conns := make([]net.Conn, total)
			defer func() {
				for _, c := range conns {
					if c != nil {
						c.Close()
					}
				}
			}()
			start := time.Now()
			var dialErrs atomic.Int64
			var firstErr atomic.Value
			var wg sync.WaitGroup
			next := make(chan int)
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						src := &net.TCPAddr{IP: net.IPv4(127, 0, 3, byte(1+i/perIP))}
						c, err := (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).Dial("tcp", p.listen)
						if err == nil {
							_, err = io.WriteString(c, partial)
							conns[i] = c
						}
						if err != nil {
							dialErrs.Add(1)
							firstErr.CompareAndSwap(nil, err)
						}
					}
				}()
			}
			for i := range total {
				next <- i
			}
			close(next)
			wg.Wait()
			opened := time.Since(start)
			// The server has taken what it takes: wait until its open
			// files settle (bounded), then look.
			var fds float64
			deadline := time.Now().Add(20 * time.Second)
			for prev := -1.0; time.Now().Before(deadline); prev = fds {
				fds = scrapeMetric(t, p.admin, "process_open_fds", "")
				if fds == prev {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			peak := fds
			rss := scrapeMetric(t, p.admin, "process_resident_memory_bytes", "")
			// A new client from an address that is not attacking connects.
			sess2 := devLogin(t, p.listen, "newcomer", "1")
			nc, resp, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDial: func(network, addr string) (net.Conn, error) {
				return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 4, 1)}}).Dial(network, addr)
			}}).Dial("ws://"+p.listen+"/echo?session="+sess2, nil)
			if err != nil {
				t.Fatalf("a new client during the attack: %v %v", err, resp)
			}
			nc.Close()
			close(stop)
			pr := <-probeDone
			if pr.err != nil {
				t.Fatalf("probe during the attack, after %d echoes: %v", len(pr.l), pr.err)
			}
			if n := dialErrs.Load(); n > 0 {
				t.Fatalf("%d of %d attacker connections failed to open: %v", n, total, firstErr.Load())
			}

			var refused, held int
			switch tc.maxPending {
			case 0:
				held = total
				if fds < fds0+float64(total)*0.99 {
					t.Fatalf("the server holds %v files during the attack (%v before): it did not accept the %d connections", fds, fds0, total)
				}
				// The server drops them at handshake_timeout, on its own,
				// and counts each.
				deadline := time.Now().Add(60 * time.Second)
				for fds = scrapeMetric(t, p.admin, "process_open_fds", ""); fds > fds0+10; fds = scrapeMetric(t, p.admin, "process_open_fds", "") {
					if time.Now().After(deadline) {
						t.Fatalf("the half-open connections were not dropped: %v files open (%v before)", fds, fds0)
					}
					time.Sleep(200 * time.Millisecond)
				}
				if got := scrapeMetric(t, p.admin, "edgews_upgrades_rejected_total", `reason="handshake_timeout"`) - timeouts0; got != total {
					t.Fatalf("handshake_timeout counted %v times, want %d", got, total)
				}
				// The attacker's ends see the server's answer (408) or EOF.
				c := conns[total-1]
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if b, _ := io.ReadAll(c); len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408") {
					t.Fatalf("a half-open connection was answered %q", b)
				}
			default:
				// Every connection beyond 20 per address got a 429 at once;
				// the first 20 of each are still waiting (all are read at
				// once, for a second: well before handshake_timeout).
				var got429, waiting, other atomic.Int64
				var firstOther atomic.Value
				var wg sync.WaitGroup
				readBy := time.Now().Add(time.Second)
				for _, c := range conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := make([]byte, 64)
						c.SetReadDeadline(readBy)
						n, err := io.ReadAtLeast(c, buf, 12)
						switch {
						case n >= 12 && string(buf[:12]) == "HTTP/1.1 429":
							got429.Add(1)
						case err != nil && n == 0 && os.IsTimeout(err):
							waiting.Add(1)
						default:
							other.Add(1)
							firstOther.CompareAndSwap(nil, fmt.Sprintf("%q %v", buf[:n], err))
						}
					}()
				}
				wg.Wait()
				refused, held = int(got429.Load()), int(waiting.Load())
				wantHeld := ips * tc.maxPending
				if refused != total-wantHeld || held != wantHeld || other.Load() != 0 {
					t.Fatalf("429 %d, still pending %d, other %d (%v); want %d and %d", refused, held, other.Load(), firstOther.Load(), total-wantHeld, wantHeld)
				}
				if got := scrapeMetric(t, p.admin, "edgews_upgrades_rejected_total", `reason="ip_pending"`) - pending0; got != float64(refused) {
					t.Fatalf("ip_pending counted %v, want %d", got, refused)
				}
				if fds > fds0+float64(wantHeld)+100 {
					t.Fatalf("the server holds %v files (%v before) with at most %d pending", fds, fds0, wantHeld)
				}
				// A client from an attacking address is refused too.
				c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 3, 1)}}).Dial("tcp", p.listen)
				if err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, _ := io.ReadAll(c)
				c.Close()
				if !strings.HasPrefix(string(b), "HTTP/1.1 429") {
					t.Fatalf("a new connection from an attacking address: %q", b)
				}
				for _, c := range conns {
					c.Close()
				}
				deadline := time.Now().Add(30 * time.Second)
				for fds = scrapeMetric(t, p.admin, "process_open_fds", ""); fds > fds0+10; fds = scrapeMetric(t, p.admin, "process_open_fds", "") {
					if time.Now().After(deadline) {
						t.Fatalf("closed connections were not released: %v files open (%v before)", fds, fds0)
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			if _, err := probe.echo(); err != nil {
				t.Fatalf("probe after the attack: %v", err)
			}
			ratio := func(a, b time.Duration) string {
				return strconv.FormatFloat(float64(a)/float64(max(b, 1)), 'f', 2, 64)
			}
			t.Logf("RESULT half-open upgrades (%s): %d connections from %d addresses opened in %v; server held %d, refused %d with 429 ip_pending; "+
				"open files %v -> peak %v -> %v after; RSS %.0f -> %.0f MiB; handshake_timeout counted %v; probe p50 %v -> %v (x%s), p99 %v -> %v (x%s), max %v, %d echoes during; sockets lost 0",
				tc.name, total, ips, opened.Round(time.Millisecond), held, refused, fds0, peak, fds, rss0/(1<<20), rss/(1<<20),
				scrapeMetric(t, p.admin, "edgews_upgrades_rejected_total", `reason="handshake_timeout"`)-timeouts0,
				quantile(before, .5).Round(time.Microsecond), quantile(pr.l, .5).Round(time.Microsecond), ratio(quantile(pr.l, .5), quantile(before, .5)),
				quantile(before, .99).Round(time.Microsecond), quantile(pr.l, .99).Round(time.Microsecond), ratio(quantile(pr.l, .99), quantile(before, .99)),
				quantile(pr.l, 1).Round(time.Microsecond), len(pr.l))
		})
	}
}
