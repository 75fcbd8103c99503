package gossip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestMemberErrors checks that failures of a member's Local are reported,
// not mistaken for answers.
func TestMemberErrors(t *testing.T) {
	t.Parallel()
	a, b, c := threeNodes(t, "me", nil)
	b.local.add("b1", "broken", "ctx", "u", "/")
	c.local.add("c1", "broken", "ctx", "u", "/")
	c.local.fail("count:u")
	c.local.fail("close:broken")

	res, err := a.Exists(context.Background(), Query{Context: "ctx", User: "u", Path: "*"}, ExistsOptions{Count: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Answered != 2 || res.Failed != 1 || res.Complete || res.Count != 1 || !res.Found {
		t.Fatalf("Exists with one failing member = %+v", res)
	}

	n, err := a.CloseSession(context.Background(), "broken")
	if n != 1 || !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), c.Name()) {
		t.Fatalf("CloseSession with one failing member = %d, %v; want 1 and ErrIncomplete naming %s", n, err, c.Name())
	}
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 500 {
		t.Fatalf("CloseSession error does not carry the member's status: %v", err)
	}
}

// TestJoinRetries starts a node whose seed is not up yet: it keeps trying
// in the background and joins once the seed appears.
func TestJoinRetries(t *testing.T) {
	t.Parallel()
	seedAddr := freeUDPTCPPort(t, "127.0.0.1")
	cfg := testConfig("jr-b", "127.0.0.2")
	cfg.Join = []string{seedAddr}
	b := startNode(t, cfg)
	eventually(t, 5*time.Second, "a failed join attempt", func() bool { return b.Metrics().JoinFailures >= 1 })

	seed := testConfig("jr-a", "127.0.0.1")
	seed.BindAddr = seedAddr
	a := startNode(t, seed)
	waitMesh(t, []*testNode{a, b}, 10*time.Second)
	if m := b.Metrics(); m.JoinAttempts < 2 {
		t.Fatalf("JoinAttempts = %d, want retries", m.JoinAttempts)
	}

	// A bounded number of attempts gives up.
	cfg = testConfig("jr-c", "127.0.0.3")
	cfg.Join = []string{freeUDPTCPPort(t, "127.0.0.3")}
	cfg.JoinMaxAttempts = 2
	c := startNode(t, cfg)
	eventually(t, 5*time.Second, "two failed attempts", func() bool { return c.Metrics().JoinFailures == 2 })
	time.Sleep(5 * cfg.JoinRetryMaxInterval / 2)
	if got := c.Metrics().JoinAttempts; got != 2 {
		t.Fatalf("JoinAttempts = %d after giving up, want 2", got)
	}
}

// freeUDPTCPPort returns host:port of a port that was free for TCP and UDP a
// moment ago.
func freeUDPTCPPort(t *testing.T, host string) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return addr
	}
	t.Fatal("no free port")
	return ""
}

// TestStaleIncarnation plays a queue still addressed to a previous
// incarnation of a member: the member refuses it with 409 and the queue is
// dropped and counted.
func TestStaleIncarnation(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, testConfig("si-a", "127.0.0.1"), testConfig("si-b", "127.0.0.2"))
	a, b := ns[0], ns[1]
	b.local.add("s", "s", "c", "u", "/")

	stale := a.newPeer(b.Name(), b.boot+1, "http://"+b.InternalAddr())
	a.mu.Lock()
	real := a.peers[b.Name()]
	a.peers[b.Name()] = stale
	a.mu.Unlock()
	a.wg.Add(1)
	go stale.run()
	for i := range 3 {
		if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: fmt.Appendf(nil, "old-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "the stale queue to be dropped", func() bool { return a.Metrics().DropsNodeGone == 3 })
	if got := b.local.received("s"); len(got) != 0 {
		t.Fatalf("the new incarnation received %d messages of the old one", len(got))
	}
	a.mu.Lock()
	if _, ok := a.peers[b.Name()]; ok {
		t.Error("stale queue still registered")
	}
	a.peers[b.Name()] = real // what the next membership event would do
	a.mu.Unlock()
	if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	if got := b.local.waitReceived(t, "s", 1, 5*time.Second); string(got[0].Data) != "new" {
		t.Fatalf("received %q", got[0].Data)
	}
}
