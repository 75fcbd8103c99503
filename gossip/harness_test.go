package gossip

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// memLocal is an in-memory Local: a set of sockets and what each received.
// It matches path filters the way the server does: "*" (or empty) matches
// every path, "/prefix/*" matches "/prefix" and everything below it, and
// anything else matches exactly.
type memLocal struct {
	mu      sync.Mutex
	sockets map[string]*memSocket
	got     map[string][]Message // by socket id
	notify  chan struct{}        // closed and replaced on every delivery
	failing map[string]bool      // "count:<user>" or "close:<session>" fail
}

var _ Local = (*memLocal)(nil)

type memSocket struct {
	id, session, context, user, path string
}

func newMemLocal() *memLocal {
	return &memLocal{sockets: make(map[string]*memSocket), got: make(map[string][]Message), notify: make(chan struct{}), failing: make(map[string]bool)}
}

// fail makes Count for a user or CloseSession for a session fail.
func (l *memLocal) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failing[key] = true
}

var errLocalFailure = errors.New("memLocal: failing on purpose")

func (l *memLocal) add(id, session, context, user, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sockets[id] = &memSocket{id: id, session: session, context: context, user: user, path: path}
}

func matchFilter(filter, path string) bool {
	switch {
	case filter == "" || filter == "*" || filter == "/*":
		return true
	case strings.HasSuffix(filter, "/*"):
		prefix := strings.TrimSuffix(filter, "/*")
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	default:
		return path == filter
	}
}

func (l *memLocal) matching(ctx, user, filter string) []*memSocket {
	var out []*memSocket
	for _, s := range l.sockets {
		if s.context == ctx && s.user == user && matchFilter(filter, s.path) {
			out = append(out, s)
		}
	}
	return out
}

func (l *memLocal) Count(_ context.Context, q Query) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing["count:"+q.User] {
		return 0, errLocalFailure
	}
	return len(l.matching(q.Context, q.User, q.Path)), nil
}

func (l *memLocal) Deliver(_ context.Context, m Message) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	socks := l.matching(m.Context, m.User, m.Path)
	for _, s := range socks {
		l.got[s.id] = append(l.got[s.id], m)
	}
	close(l.notify)
	l.notify = make(chan struct{})
	return len(socks), nil
}

func (l *memLocal) CloseSession(_ context.Context, session string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing["close:"+session] {
		return 0, errLocalFailure
	}
	n := 0
	for id, s := range l.sockets {
		if s.session == session {
			delete(l.sockets, id)
			n++
		}
	}
	return n, nil
}

func (l *memLocal) Stats(context.Context) (json.RawMessage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return json.RawMessage(fmt.Sprintf(`{"sockets":%d}`, len(l.sockets))), nil
}

// received returns a copy of what socket id received.
func (l *memLocal) received(id string) []Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Message(nil), l.got[id]...)
}

func (l *memLocal) hasSocket(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sockets[id] != nil
}

// waitReceived waits until socket id has received at least n messages.
func (l *memLocal) waitReceived(t testing.TB, id string, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		got := len(l.got[id])
		ch := l.notify
		l.mu.Unlock()
		if got >= n {
			return l.received(id)
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("socket %s received %d of %d messages within %s", id, got, n, timeout)
		}
	}
}

// testLogger discards logs unless EDGEWS_GOSSIP_LOG names a level (debug,
// info, warn, error); then it writes them to stderr.
func testLogger() *slog.Logger {
	var level slog.Level
	switch os.Getenv("EDGEWS_GOSSIP_LOG") {
	case "":
		return slog.New(slog.DiscardHandler)
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

const testKey = "dGhpcyBpcyBhIDMyIGJ5dGUga2V5IGZvciB0ZXN0cyE=" // 32 bytes

// testConfig returns a config for a node on ip (127.0.0.x) with free ports.
func testConfig(name, ip string) Config {
	c := DefaultConfig()
	c.NodeName = name
	c.BindAddr = ip + ":0"
	c.Version = "test"
	c.EncryptKey = testKey
	c.JoinRetryInterval = 20 * time.Millisecond
	c.JoinRetryMaxInterval = 200 * time.Millisecond
	return c
}

type testNode struct {
	*Node
	local *memLocal
}

func startNode(t testing.TB, cfg Config) *testNode {
	t.Helper()
	local := newMemLocal()
	n, err := New(cfg, local, testLogger())
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.NodeName, err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("Start(%s): %v", cfg.NodeName, err)
	}
	t.Cleanup(n.Shutdown)
	return &testNode{Node: n, local: local}
}

// startCluster starts one node per config, joins them all to the first and
// waits until every node sees every other alive with a destination queue.
func startCluster(t testing.TB, cfgs ...Config) []*testNode {
	t.Helper()
	nodes := make([]*testNode, len(cfgs))
	for i, c := range cfgs {
		if i > 0 {
			c.Join = []string{nodes[0].GossipAddr()}
		}
		nodes[i] = startNode(t, c)
	}
	waitMesh(t, nodes, 10*time.Second)
	return nodes
}

// waitMesh waits until each node has a live queue to each other node.
func waitMesh(t testing.TB, nodes []*testNode, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "cluster to form", func() bool {
		for _, n := range nodes {
			if len(n.peerList()) != len(nodes)-1 || len(n.liveOthers()) != len(nodes)-1 {
				return false
			}
		}
		return true
	})
}

// threeNodes starts a three-node cluster on 127.0.0.1-3 with cfg applied
// to each node's config.
func threeNodes(t testing.TB, prefix string, tweak func(*Config)) (a, b, c *testNode) {
	t.Helper()
	var cfgs []Config
	for i, name := range []string{"a", "b", "c"} {
		cfg := testConfig(prefix+"-"+name, fmt.Sprintf("127.0.0.%d", i+1))
		if tweak != nil {
			tweak(&cfg)
		}
		cfgs = append(cfgs, cfg)
	}
	ns := startCluster(t, cfgs...)
	return ns[0], ns[1], ns[2]
}

// eventually polls cond every 5 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkSequence asserts that msgs carry "prefix-0" … "prefix-(n-1)" in order.
func checkSequence(t testing.TB, socket string, msgs []Message, prefix string, n int) {
	t.Helper()
	if len(msgs) != n {
		t.Fatalf("socket %s received %d messages, want %d", socket, len(msgs), n)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("%s-%d", prefix, i); string(m.Data) != want {
			t.Fatalf("socket %s message %d = %q, want %q (order or duplicate broken)", socket, i, m.Data, want)
		}
	}
}
