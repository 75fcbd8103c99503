package server

// Leak check (issue 7): after many connect/disconnect cycles the server's
// goroutines, heap and open files return to their baseline.
//
// The full check is 100,000 cycles (15-20 seconds here). Under the race
// detector, which makes every cycle about five times slower, it runs 10,000
// (leak_hardening_race_test.go), so `go test -race ./...` still checks for
// leaks; run the full count without -race:
//
//	go test -count=1 -run '^TestLeakConnectDisconnect$' -v ./server
//
// EDGEWS_LEAK_CYCLES overrides the count.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgews/edgews/server/internal/wsproto"
)

// Leak bounds: what may remain after the cycles, beyond the baseline taken
// after a warm-up. A leak of one goroutine, one file or 48 bytes per cycle
// over 100,000 cycles is far beyond them.
const (
	leakGoroutines = 3       // timers and pool workers that come and go
	leakHeapBytes  = 4 << 20 // 4 MiB
	leakFiles      = 3
)

// cycle opens a socket (upgrade, 101), closes it with 1000, reads the
// server's close frame and drops the connection.
func leakCycle(addr string, req, closeFrame []byte, buf []byte) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 512)
	status, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return fmt.Errorf("upgrade answered %q", status)
	}
	for i := 0; ; i++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if i > 20 {
			return errors.New("more than 20 header lines in the 101")
		}
	}
	if _, err := c.Write(closeFrame); err != nil {
		return err
	}
	// The server answers with its close frame (1000) and drops TCP.
	if _, err := io.ReadFull(br, buf[:4]); err != nil {
		return fmt.Errorf("close frame: %w", err)
	}
	if buf[0] != 0x88 || buf[1] != 2 || buf[2] != 0x03 || buf[3] != 0xE8 {
		return fmt.Errorf("close frame % x, want 88 02 03 e8", buf[:4])
	}
	if n, err := br.Read(buf); n != 0 || err != io.EOF {
		return fmt.Errorf("after the close frame: %d bytes, %v", n, err)
	}
	return nil
}

// runCycles runs n cycles on workers goroutines and returns when all are
// done (or the first error).
func runCycles(t *testing.T, addr, sess string, n, workers int) {
	t.Helper()
	req := []byte(upgradeRequest("/ws?session=" + sess))
	closeFrame := wsproto.AppendClientFrame(nil, true, wsproto.OpClose, 0, [4]byte{1, 2, 3, 4}, wsproto.ClosePayload(1000, ""))
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	deadline := time.Now().Add(5 * time.Minute)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for next.Add(1) <= int64(n) && failed.Load() == nil {
				if time.Now().After(deadline) {
					failed.Store(fmt.Errorf("not done within 5 minutes (%d cycles started)", next.Load()))
					return
				}
				if err := leakCycle(addr, req, closeFrame, buf); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("cycle failed: %v", err)
	}
}

type leakSnapshot struct {
	goroutines int
	heap       uint64
	files      int
}

func takeSnapshot(t *testing.T) leakSnapshot {
	t.Helper()
	http.DefaultClient.CloseIdleConnections() // the test's own keep-alive connections
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fds = nil // not Linux: files are not checked
	}
	return leakSnapshot{goroutines: countGoroutines(), heap: ms.HeapAlloc, files: len(fds)}
}

// fasthttpCleaners counts the goroutines of fasthttp worker pools' cleaners
// (one per fasthttp server, running or stopped less than 10s ago).
func fasthttpCleaners() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("github.com/valyala/fasthttp.(*workerPool).Start.func"))
}

// countGoroutines counts the process's goroutines except fasthttp's idle
// workers, which fasthttp keeps for up to 10s after a burst of connections,
// and the worker pools' cleaners, which outlive a stopped fasthttp server by
// up to 10s (one per server of earlier tests). Either would hide a leak in
// a baseline taken while they are there.
func countGoroutines() int {
	buf := make([]byte, 1<<20)
	for range 8 { // up to 128 MiB of stacks
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		header, rest, _ := bytes.Cut(g, []byte("\n"))
		idleWorker := bytes.Contains(header, []byte("[chan receive")) &&
			bytes.HasPrefix(rest, []byte("github.com/valyala/fasthttp.(*workerPool).workerFunc("))
		cleaner := bytes.Contains(rest, []byte("github.com/valyala/fasthttp.(*workerPool).Start.func"))
		if len(header) > 0 && !idleWorker && !cleaner {
			count++
		}
	}
	return count
}

func leakCycles() int {
	if v := os.Getenv("EDGEWS_LEAK_CYCLES"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return defaultLeakCycles
}

// TestLeakConnectDisconnect: 100,000 sockets opened and closed (16 at a
// time); afterwards no socket, session or user is left in the registry,
// and goroutines, heap and open files are back to their baseline within
// the bounds above. Not parallel: it counts the process's goroutines.
func TestLeakConnectDisconnect(t *testing.T) {
	n := leakCycles()
	ts := startServer(t, nil)
	sess := ts.login("cycler", "1")
	addr := ts.Addr().String()
	const workers = 16
	warm := min(2000, n)
	runCycles(t, addr, sess, warm, workers)
	settle := func() {
		eventually(t, "every socket gone", func() bool { return ts.reg.total.Load() == 0 })
	}
	settle()
	// The baseline: goroutines and heap once what earlier tests left behind
	// has wound down. A stopped fasthttp server stays reachable from its
	// worker pool's cleaner for up to 10s; wait until only this server's
	// two (browser and admin listener) are left, then until neither count
	// falls for 500ms (at most 10s).
	for i := 0; i < 150 && fasthttpCleaners() > 2; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	base := takeSnapshot(t)
	for i, still := 0, 0; i < 100 && still < 5; i++ {
		time.Sleep(100 * time.Millisecond)
		s := takeSnapshot(t)
		if s.goroutines < base.goroutines || s.heap+64<<10 < base.heap {
			still = 0
		} else {
			still++
		}
		base.goroutines, base.heap, base.files = min(base.goroutines, s.goroutines), min(base.heap, s.heap), min(base.files, s.files)
	}
	start := time.Now()
	runCycles(t, addr, sess, n, workers)
	took := time.Since(start)
	settle()
	// Give goroutines that end on their own (socket writers, timers) time
	// to go.
	var after leakSnapshot
	deadline := time.Now().Add(30 * time.Second)
	for range 1000 { // 100ms apart, and the deadline fails it sooner
		after = takeSnapshot(t)
		if after.goroutines <= base.goroutines+leakGoroutines && after.heap <= base.heap+leakHeapBytes &&
			after.files <= base.files+leakFiles {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after %d cycles: goroutines %d -> %d (bound +%d), heap %d -> %d (bound +%d), files %d -> %d (bound +%d)\n%s",
				n, base.goroutines, after.goroutines, leakGoroutines, base.heap, after.heap, leakHeapBytes,
				base.files, after.files, leakFiles, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sessions, users := ts.reg.counts(); sessions != 0 || users != 0 {
		t.Fatalf("registry keeps %d sessions and %d users", sessions, users)
	}
	st := ts.stats()
	if st.Routes["/ws"].Opened != uint64(warm+n) || st.Closed["peer"] != uint64(warm+n) {
		t.Fatalf("opened %d, closed by peer %d, want %d each", st.Routes["/ws"].Opened, st.Closed["peer"], warm+n)
	}
	t.Logf("RESULT leak check: %d connect/disconnect cycles in %v (%.0f/s, %d at a time); goroutines %d -> %d (bound +%d), heap %.1f -> %.1f MiB (bound +%d MiB), open files %d -> %d (bound +%d)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), workers, base.goroutines, after.goroutines, leakGoroutines,
		float64(base.heap)/(1<<20), float64(after.heap)/(1<<20), leakHeapBytes>>20, base.files, after.files, leakFiles)
}
