package gossip

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgews/edgews/gossip/internal/hmacauth"
	"github.com/edgews/edgews/gossip/internal/wire"
)

// blockingLocal is a memLocal whose Count and Deliver block until their
// context is done (or the test ends), recording how many calls are in
// progress.
type blockingLocal struct {
	*memLocal
	inflight  atomic.Int32
	cancelled atomic.Int32  // calls that returned because their context ended
	entered   chan string   // "count" or "deliver", once per call
	release   chan struct{} // closed at the end of the test
}

func newBlockingLocal() *blockingLocal {
	return &blockingLocal{memLocal: newMemLocal(), entered: make(chan string, 16), release: make(chan struct{})}
}

func (l *blockingLocal) block(ctx context.Context, what string) error {
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	l.entered <- what
	select {
	case <-ctx.Done():
		l.cancelled.Add(1)
		return ctx.Err()
	case <-l.release:
		return errors.New("released by the test")
	}
}

func (l *blockingLocal) Count(ctx context.Context, _ Query) (int, error) {
	return 0, l.block(ctx, "count")
}

func (l *blockingLocal) Deliver(ctx context.Context, _ Message) (int, error) {
	return 0, l.block(ctx, "deliver")
}

// within fails the test unless f returns within d. It guards calls that
// would otherwise hang the test when the behaviour under test is broken.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

func waitEntered(t *testing.T, l *blockingLocal, want string) {
	t.Helper()
	select {
	case got := <-l.entered:
		if got != want {
			t.Fatalf("Local entered %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Local.%s was not called", want)
	}
}

// TestShutdownStopsLocalCalls checks that no call into Local outlives
// Shutdown: a batch being applied and an exists query being answered get
// their contexts cancelled, and Shutdown waits for them. It also checks
// that an Exists waiting for answers returns ErrClosed when its own node
// shuts down.
func TestShutdownStopsLocalCalls(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("sd-a", "127.0.0.1"))
	local := newBlockingLocal()
	cfg := testConfig("sd-b", "127.0.0.2")
	cfg.Join = []string{a.GossipAddr()}
	bn, err := New(cfg, local, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := bn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bn.Shutdown)
	// Cleanups run last-in first-out: if the test fails, the Local calls
	// are released before the Shutdown above waits for them.
	t.Cleanup(func() { close(local.release) })
	b := &testNode{Node: bn, local: local.memLocal}
	waitMesh(t, []*testNode{a, b}, 10*time.Second)

	if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	waitEntered(t, local, "deliver")

	existsErr := make(chan error, 1)
	go func() {
		_, err := a.Exists(context.Background(), Query{Context: "c", User: "u"}, ExistsOptions{Timeout: time.Hour})
		existsErr <- err
	}()
	waitEntered(t, local, "count")

	within(t, 10*time.Second, "a.Shutdown", a.Shutdown)
	select {
	case err := <-existsErr:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Exists during Shutdown = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Exists kept waiting after its node shut down")
	}

	within(t, 10*time.Second, "b.Shutdown", b.Shutdown)
	if n := local.inflight.Load(); n != 0 {
		t.Fatalf("%d Local calls still running after Shutdown returned", n)
	}
	if n := local.cancelled.Load(); n != 2 {
		t.Fatalf("%d Local calls saw their context cancelled, want 2", n)
	}
}

// TestSerfStopsOnItsOwn plays serf shutting itself down underneath the node
// (what it does when it loses a node name conflict): the node must stop
// too, visibly, instead of carrying on outside the cluster.
func TestSerfStopsOnItsOwn(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("ss-a", "127.0.0.1"))
	if err := a.serf.Shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after serf stopped")
	}
	eventually(t, 10*time.Second, "cluster operations to fail", func() bool {
		_, err := a.Send(context.Background(), Message{})
		return errors.Is(err, ErrClosed)
	})
}

// TestBrokenUploadIsRetried sends a correctly signed batch whose body ends
// early. That is a broken upload, not a bad batch: it must not be answered
// 400 (which makes the sender drop the batch) but with a status the sender
// retries.
func TestBrokenUploadIsRetried(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("bu-a", "127.0.0.1"))
	raw, err := base64.StdEncoding.DecodeString(testKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hmacauth.DeriveKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	body := wire.AppendBatch(nil, 5, 1, a.boot, []wire.Msg{{Context: "c", User: "u", Data: bytes.Repeat([]byte("d"), 100)}})
	h := http.Header{}
	if err := hmacauth.NewSigner(key, "bu-b").Sign(h, http.MethodPost, pathBatch, a.Name(), body, time.Now()); err != nil {
		t.Fatal(err)
	}

	conn, err := net.DialTimeout("tcp", a.InternalAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var req strings.Builder
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", pathBatch, a.InternalAddr(), len(body))
	for k, v := range h {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v[0])
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(append([]byte(req.String()), body[:len(body)/2]...)); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("truncated upload answered %d, want %d", resp.StatusCode, http.StatusServiceUnavailable)
	}
	if m := a.Metrics(); m.AuthFailures != 0 || m.BadRequests != 0 || m.BatchesReceived != 0 {
		t.Fatalf("metrics after a truncated upload: auth %d, bad %d, batches %d", m.AuthFailures, m.BadRequests, m.BatchesReceived)
	}
}

// TestLargestExistsQuery asks with a query of MaxExistsQuerySize bytes from
// a node whose name has MaxNodeName bytes, over IPv6 when the machine has
// it (the largest serf framing), with a timeout that takes serf's longest
// encoding: the query must fit into one gossip packet and be answered.
func TestLargestExistsQuery(t *testing.T) {
	t.Parallel()
	host := "::1"
	if l, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Logf("no IPv6 loopback (%v); using 127.0.0.1", err)
		host = "127.0.0.1"
	} else {
		l.Close()
	}
	var cfgs []Config
	for _, c := range []string{"a", "b"} {
		cfg := testConfig(strings.Repeat(c, MaxNodeName), host)
		cfg.BindAddr = net.JoinHostPort(host, "0")
		cfgs = append(cfgs, cfg)
	}
	ns := startCluster(t, cfgs...)
	a, b := ns[0], ns[1]

	path := "/" + strings.Repeat("p", MaxFieldSize-1)
	q := Query{Context: strings.Repeat("c", 35), User: strings.Repeat("u", 33), Path: path}
	payload, err := wire.AppendExistsQuery(nil, wire.ExistsQuery{Context: q.Context, User: q.User, Path: q.Path})
	if err != nil || len(payload) != MaxExistsQuerySize {
		t.Fatalf("test query encodes to %d bytes (%v), want %d", len(payload), err, MaxExistsQuerySize)
	}
	b.local.add("s", "s", q.Context, q.User, path)
	res, err := a.Exists(context.Background(), q, ExistsOptions{Timeout: 10 * time.Second})
	if err != nil || !res.Found {
		t.Fatalf("largest Exists = %+v, %v; want found", res, err)
	}
}

// TestNoGoroutinesAfterShutdown runs a cluster through sends, exists,
// stats, a failure grace, a leave and shutdowns, then checks that none of
// the package's goroutines is left. It does not call t.Parallel: top-level
// parallel tests wait until the sequential ones are done, so the goroutines
// it inspects are its own.
func TestNoGoroutinesAfterShutdown(t *testing.T) {
	a, b, c := threeNodes(t, "gl", func(cfg *Config) { cfg.FailedQueueGrace = time.Hour })
	c.local.add("s", "s", "c", "u", "/")
	for i := range 50 {
		if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: fmt.Appendf(nil, "m-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c.local.waitReceived(t, "s", 50, 10*time.Second)
	if res, err := a.Exists(context.Background(), Query{Context: "c", User: "u"}, ExistsOptions{Count: true}); err != nil || res.Count != 1 {
		t.Fatalf("Exists = %+v, %v", res, err)
	}
	if _, err := a.Stats(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	c.Shutdown()
	// a keeps c's queue for the (long) grace and keeps retrying it.
	eventually(t, 10*time.Second, "c to be declared failed", func() bool {
		m := a.Metrics()
		return len(m.Peers) == 1 && m.Peers[0].Failed
	})
	if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: []byte("for the failed member")}); err != nil {
		t.Fatal(err)
	}
	a.Shutdown()

	leftover := func() string {
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "edgews/gossip.(*") && !strings.Contains(g, "edgews/gossip.Test") {
				return g
			}
		}
		return ""
	}
	deadline := time.Now().Add(5 * time.Second)
	for g := leftover(); g != ""; g = leftover() {
		if time.Now().After(deadline) {
			t.Fatalf("goroutine left 5s after Shutdown:\n%s", g)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
