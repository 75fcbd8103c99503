package gossip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/serf/serf"
)

// detectionAllowance is added to Timing.FailureDetectionBound in the
// node-loss test for scheduling on a loaded machine running the race
// detector: goroutines and timers can be late by tens of milliseconds
// there, and memberlist's own awareness may stretch a probe interval.
const detectionAllowance = time.Second

// TestNodeLoss stops one of three nodes without a leave while the first
// keeps sending, and checks that the survivor loses nothing, that exists
// stops waiting for (and reporting) the dead node within the stated bound,
// and that the node can come back as a new incarnation.
func TestNodeLoss(t *testing.T) {
	t.Parallel()
	a, b, c := threeNodes(t, "nl", func(cfg *Config) { cfg.FailedQueueGrace = 300 * time.Millisecond })
	b.local.add("b", "s", "ctx", "ub", "/")
	c.local.add("c", "s", "ctx", "uc", "/")
	cAddr := netip.MustParseAddrPort(c.GossipAddr())
	cCfg := c.cfg
	query := Query{Context: "ctx", User: "uc", Path: "*"}
	if res, err := a.Exists(context.Background(), query, ExistsOptions{}); err != nil || !res.Found {
		t.Fatalf("Exists before the loss = %+v, %v", res, err)
	}

	// A steady stream to users on b and on c: one message each per
	// millisecond, for at most 10 s.
	stop := make(chan struct{})
	var sent int
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		for i := 0; i < 20000; i++ {
			if _, err := a.Send(context.Background(), Message{Context: "ctx", User: "ub", Data: fmt.Appendf(nil, "b-%d", i)}); err != nil {
				t.Errorf("Send to ub %d: %v", i, err)
				return
			}
			if _, err := a.Send(context.Background(), Message{Context: "ctx", User: "uc", Data: fmt.Appendf(nil, "c-%d", i)}); err != nil {
				t.Errorf("Send to uc %d: %v", i, err)
				return
			}
			sent = i + 1
			select {
			case <-tick.C:
			case <-stop:
				return
			case <-deadline:
				return
			}
		}
	})

	b.local.waitReceived(t, "b", 200, 5*time.Second)
	killed := time.Now()
	c.Shutdown() // no leave: the others have to detect the failure

	// Poll exists until it is complete without the dead node.
	bound := a.cfg.Timing.FailureDetectionBound(3)
	var detected time.Duration
	for i := 0; ; i++ {
		res, err := a.Exists(context.Background(), query, ExistsOptions{Timeout: 250 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Complete && res.Expected == 1 && !res.Found {
			detected = time.Since(killed)
			break
		}
		if time.Since(killed) > bound+detectionAllowance || i > 1000 {
			t.Fatalf("exists still waits for or reports the dead node %s after the loss: %+v", time.Since(killed), res)
		}
	}
	t.Logf("exists stopped waiting for the dead node %s after it stopped (bound %s + allowance %s)",
		detected.Round(time.Millisecond), bound, detectionAllowance)
	eventually(t, 2*time.Second, "the dead node's queue to be dropped after the grace", func() bool { return len(a.peerList()) == 1 })

	// Keep streaming a little after the detection, then check that the
	// survivor got everything, in order, once.
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	checkSequence(t, "b", b.local.waitReceived(t, "b", sent, 10*time.Second), "b", sent)
	m := a.Metrics()
	t.Logf("sent %d messages to each user; dropped for the dead node: %d", sent, m.DropsNodeGone)
	if m.DropsOverflow != 0 || m.DropsRejected != 0 || m.DropsNodeGone == 0 {
		t.Fatalf("drops: overflow %d, rejected %d, node gone %d; want only node-gone drops", m.DropsOverflow, m.DropsRejected, m.DropsNodeGone)
	}

	// The node comes back as a new incarnation, on another port (as after
	// a restart with a new address): it may take over its old name.
	cCfg.BindAddr = net.JoinHostPort(cAddr.Addr().String(), "0")
	cCfg.Join = []string{a.GossipAddr()}
	c2 := startNode(t, cCfg)
	c2.local.add("c", "s", "ctx", "uc", "/")
	waitMesh(t, []*testNode{a, b, c2}, 10*time.Second)
	select {
	case <-c2.Done():
		t.Fatal("the restarted node stopped (lost a name conflict)")
	default:
	}
	if _, err := a.Send(context.Background(), Message{Context: "ctx", User: "uc", Data: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	got := c2.local.waitReceived(t, "c", 1, 5*time.Second)
	time.Sleep(50 * time.Millisecond) // room for a wrongly repeated batch to show up
	if got = c2.local.received("c"); len(got) != 1 || string(got[0].Data) != "again" {
		t.Fatalf("restarted node received %d messages (%q...), want exactly the new one", len(got), got[0].Data)
	}
	if res, err := a.Exists(context.Background(), query, ExistsOptions{}); err != nil || !res.Found || res.Expected != 2 {
		t.Fatalf("Exists after the rejoin = %+v, %v", res, err)
	}
}

// TestFailedMemberResumes plays a false failure of a live member (what a
// starved machine or a short partition looks like to the others): its
// queue is kept during the grace and resumes, in order and without loss,
// when the member turns out to be alive.
func TestFailedMemberResumes(t *testing.T) {
	t.Parallel()
	cfg := testConfig("fr-a", "127.0.0.1")
	cfg.FailedQueueGrace = 300 * time.Millisecond
	ns := startCluster(t, cfg, testConfig("fr-b", "127.0.0.2"))
	a, b := ns[0], ns[1]
	b.local.add("s", "s", "c", "u", "/")
	var member serf.Member
	for _, m := range a.serf.Members() {
		if m.Name == b.Name() {
			member = m
		}
	}
	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if k, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: fmt.Appendf(nil, "m-%d", i)}); err != nil || k != 1 {
				t.Fatalf("Send %d = %d, %v", i, k, err)
			}
		}
	}
	send(0, 10)

	failed := member
	failed.Status = serf.StatusFailed
	a.syncPeer(failed)
	if m := a.Metrics(); len(m.Peers) != 1 || !m.Peers[0].Failed {
		t.Fatalf("after the failure: peers %+v, want one failed queue", m.Peers)
	}
	send(10, 20)
	a.syncPeer(member) // alive again, same incarnation
	checkSequence(t, "s", b.local.waitReceived(t, "s", 20, 5*time.Second), "m", 20)
	if m := a.Metrics(); m.DropsNodeGone != 0 || m.Peers[0].Failed {
		t.Fatalf("after the recovery: %d dropped, peers %+v", m.DropsNodeGone, m.Peers)
	}

	// Without a recovery the queue goes at the end of the grace.
	a.syncPeer(failed)
	eventually(t, 2*a.cfg.FailedQueueGrace, "the failed queue to be dropped", func() bool { return len(a.peerList()) == 0 })
}
