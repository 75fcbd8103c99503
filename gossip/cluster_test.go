package gossip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCluster runs the three-node scenarios of the brief on one cluster:
// send order and exactly-once, exists with path filters, large messages,
// session invalidation and stats.
func TestCluster(t *testing.T) {
	t.Parallel()
	a, b, c := threeNodes(t, "cl", func(cfg *Config) { cfg.MaxMessageSize = 2 << 20 })

	b.local.add("b1", "sb", "ctx1", "alice", "/socket.io/")
	c.local.add("c1", "sc", "ctx1", "alice", "/socket.io/")
	c.local.add("c2", "sc", "ctx1", "alice", "/plain")
	c.local.add("c3", "sx", "ctx1", "bob", "/socket.io/")

	t.Run("send reaches every member once and in order", func(t *testing.T) {
		const n = 300
		for i := range n {
			k, err := a.Send(context.Background(), Message{Context: "ctx1", User: "alice", Path: "*", Data: fmt.Appendf(nil, "seq-%d", i)})
			if err != nil || k != 2 {
				t.Fatalf("Send %d = %d, %v; want 2 members", i, k, err)
			}
		}
		for _, s := range []struct {
			n  *testNode
			id string
		}{{b, "b1"}, {c, "c1"}, {c, "c2"}} {
			checkSequence(t, s.id, s.n.local.waitReceived(t, s.id, n, 10*time.Second), "seq", n)
		}
		if got := c.local.received("c3"); len(got) != 0 {
			t.Fatalf("bob's socket received %d of alice's messages", len(got))
		}
		eventually(t, 5*time.Second, "all batches acknowledged", func() bool { return a.Metrics().MessagesSent == 2*n })
	})

	t.Run("send with a path filter", func(t *testing.T) {
		before := len(c.local.received("c2"))
		if _, err := a.Send(context.Background(), Message{Context: "ctx1", User: "alice", Path: "/socket.io/*", Data: []byte("filtered")}); err != nil {
			t.Fatal(err)
		}
		got := c.local.waitReceived(t, "c1", len(c.local.received("c1"))+1, 5*time.Second)
		if string(got[len(got)-1].Data) != "filtered" {
			t.Fatalf("c1 last message = %q", got[len(got)-1].Data)
		}
		if after := len(c.local.received("c2")); after != before {
			t.Fatalf("socket on /plain received a /socket.io/* message")
		}
	})

	t.Run("exists with path filters", func(t *testing.T) {
		tests := []struct {
			user, filter string
			found        bool
			count        int
		}{
			{"bob", "/socket.io/*", true, 1},
			{"bob", "*", true, 1},
			{"bob", "/socket.io/", true, 1},
			{"bob", "/plain", false, 0},
			{"bob", "/other/*", false, 0},
			{"alice", "/socket.io/*", true, 2},
			{"alice", "*", true, 3},
			{"carol", "*", false, 0},
		}
		for _, tt := range tests {
			// Early positive return.
			res, err := a.Exists(context.Background(), Query{Context: "ctx1", User: tt.user, Path: tt.filter}, ExistsOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Found != tt.found || res.Expected != 2 {
				t.Fatalf("Exists(%s, %s) = %+v, want found=%v of 2 members", tt.user, tt.filter, res, tt.found)
			}
			if !tt.found && (!res.Complete || res.Answered != 2) {
				t.Fatalf("negative Exists(%s, %s) = %+v, want complete", tt.user, tt.filter, res)
			}
			// Counting waits for everyone.
			res, err = a.Exists(context.Background(), Query{Context: "ctx1", User: tt.user, Path: tt.filter}, ExistsOptions{Count: true})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Complete || res.Count != tt.count || res.Answered != 2 {
				t.Fatalf("counting Exists(%s, %s) = %+v, want count %d, complete", tt.user, tt.filter, res, tt.count)
			}
		}
	})

	t.Run("exists with the longest path filter", func(t *testing.T) {
		path := "/" + strings.Repeat("p", MaxFieldSize-1)
		c.local.add("c4", "sx", "7", "dave", path)
		res, err := a.Exists(context.Background(), Query{Context: "7", User: "dave", Path: path}, ExistsOptions{})
		if err != nil || !res.Found {
			t.Fatalf("Exists with a %d-byte filter = %+v, %v", len(path), res, err)
		}
		_, err = a.Exists(context.Background(), Query{Context: strings.Repeat("c", 200), User: "dave", Path: path}, ExistsOptions{})
		if !errors.Is(err, ErrQueryTooLarge) {
			t.Fatalf("oversized query: err = %v, want ErrQueryTooLarge", err)
		}
	})

	t.Run("large messages", func(t *testing.T) {
		c.local.add("big", "sb", "ctx2", "erin", "/x")
		for _, size := range []int{512 << 10, 2 << 20} {
			data := bytes.Repeat([]byte{byte(size)}, size)
			data[0], data[size-1] = 'A', 'Z'
			before := len(c.local.received("big"))
			if _, err := a.Send(context.Background(), Message{Context: "ctx2", User: "erin", Binary: true, Data: data}); err != nil {
				t.Fatalf("Send %d bytes: %v", size, err)
			}
			got := c.local.waitReceived(t, "big", before+1, 10*time.Second)
			if m := got[before]; !m.Binary || !bytes.Equal(m.Data, data) {
				t.Fatalf("%d-byte message arrived changed (binary=%v, %d bytes)", size, m.Binary, len(m.Data))
			}
		}
		_, err := a.Send(context.Background(), Message{Context: "ctx2", User: "erin", Data: make([]byte, 2<<20+1)})
		if !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("oversized Send: err = %v, want ErrMessageTooLarge", err)
		}
	})

	t.Run("stats", func(t *testing.T) {
		stats, err := a.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 2 || stats[0].Name != b.Name() || stats[1].Name != c.Name() {
			t.Fatalf("Stats = %+v, want b and c", stats)
		}
		for _, s := range stats {
			var v struct{ Sockets int }
			if s.Err != nil || json.Unmarshal(s.Stats, &v) != nil || v.Sockets == 0 {
				t.Fatalf("stats of %s = %s, %v", s.Name, s.Stats, s.Err)
			}
		}
	})

	t.Run("close session", func(t *testing.T) {
		c.local.add("c5", "logout", "ctx3", "frank", "/a")
		c.local.add("c6", "logout", "ctx3", "frank", "/b")
		b.local.add("b2", "logout", "ctx3", "frank", "/a")
		b.local.add("b3", "keep", "ctx3", "frank", "/a")
		n, err := a.CloseSession(context.Background(), "logout")
		if err != nil || n != 3 {
			t.Fatalf("CloseSession = %d, %v; want 3", n, err)
		}
		if c.local.hasSocket("c5") || c.local.hasSocket("c6") || b.local.hasSocket("b2") || !b.local.hasSocket("b3") {
			t.Fatal("CloseSession closed the wrong sockets")
		}
		res, err := a.Exists(context.Background(), Query{Context: "ctx3", User: "frank", Path: "/b"}, ExistsOptions{})
		if err != nil || res.Found {
			t.Fatalf("Exists after CloseSession = %+v, %v", res, err)
		}
	})

	t.Run("members", func(t *testing.T) {
		ms := a.Members()
		if len(ms) != 3 {
			t.Fatalf("Members = %+v", ms)
		}
		for _, m := range ms {
			if m.Status != StatusAlive || m.Version != "test" || m.InternalAddr == "" || m.Self != (m.Name == a.Name()) {
				t.Fatalf("member %+v", m)
			}
		}
	})
}

// TestQueueSettingsAtRuntime changes the remote queue settings on a running
// node and checks the effect on the batching counters.
func TestQueueSettingsAtRuntime(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, testConfig("qs-a", "127.0.0.1"), testConfig("qs-b", "127.0.0.2"))
	a, b := ns[0], ns[1]
	b.local.add("s", "s", "c", "u", "/")
	send := func(i int) {
		t.Helper()
		if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: fmt.Appendf(nil, "m-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	settings := a.QueueSettings()

	// A long delay holds messages in the queue.
	settings.Delay, settings.MaxDelay = time.Hour, time.Hour
	if err := a.SetQueueSettings(settings); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		send(i)
	}
	m := a.Metrics()
	if len(m.Peers) != 1 || m.Peers[0].QueueMessages != 50 || m.BatchesSent != 0 {
		t.Fatalf("with Delay 1h: peers %+v, batches %d; want 50 queued, none sent", m.Peers, m.BatchesSent)
	}

	// Delay 0 sends what waits, as one batch.
	settings.Delay, settings.MaxDelay = 0, 0
	if err := a.SetQueueSettings(settings); err != nil {
		t.Fatal(err)
	}
	b.local.waitReceived(t, "s", 50, 5*time.Second)
	acked(t, a, 50)
	if got := a.Metrics().BatchesSent; got != 1 {
		t.Fatalf("after switching to Delay 0: %d batches, want 1", got)
	}

	// Delay 0 sends each message at once when they are spaced out.
	for i := 50; i < 60; i++ {
		send(i)
		b.local.waitReceived(t, "s", i+1, 5*time.Second)
		acked(t, a, uint64(i+1))
	}
	if got := a.Metrics().BatchesSent; got != 11 {
		t.Fatalf("after 10 spaced sends with Delay 0: %d batches, want 11", got)
	}

	// A stream spaced closer than Delay keeps its batch open until MaxDelay
	// cuts it: 20 messages 10 ms apart (at least 190 ms) with MaxDelay
	// 100 ms go out in at least two batches, and far fewer than 20.
	settings.Delay, settings.MaxDelay = 500*time.Millisecond, 100*time.Millisecond
	if err := a.SetQueueSettings(settings); !errors.Is(err, ErrConfig) {
		t.Fatalf("MaxDelay < Delay accepted: %v", err)
	}
	settings.Delay, settings.MaxDelay = 50*time.Millisecond, 100*time.Millisecond
	if err := a.SetQueueSettings(settings); err != nil {
		t.Fatal(err)
	}
	for i := 60; i < 80; i++ {
		send(i)
		time.Sleep(10 * time.Millisecond)
	}
	checkSequence(t, "s", b.local.waitReceived(t, "s", 80, 5*time.Second), "m", 80)
	acked(t, a, 80)
	if got := a.Metrics().BatchesSent - 11; got < 2 || got >= 20 {
		t.Fatalf("20 messages under MaxDelay went out in %d batches, want 2 to 19", got)
	}

}

// TestTimerFrequencyAtRuntime lowers TimerFrequency while a message waits
// for a check that the old setting scheduled far in the future: the new
// frequency must apply to the waiting message, not only to later ones.
func TestTimerFrequencyAtRuntime(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, testConfig("tf-a", "127.0.0.1"), testConfig("tf-b", "127.0.0.2"))
	a, b := ns[0], ns[1]
	b.local.add("s", "s", "c", "u", "/")
	s := a.QueueSettings()
	s.Delay, s.MaxDelay, s.TimerFrequency = 200*time.Millisecond, 200*time.Millisecond, time.Hour
	if err := a.SetQueueSettings(s); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: []byte("m-0")}); err != nil {
		t.Fatal(err)
	}
	// Give the queue a moment to schedule its check an hour ahead. (Had
	// the message become due meanwhile, it would simply go out now.)
	time.Sleep(20 * time.Millisecond)
	s.TimerFrequency = time.Millisecond
	if err := a.SetQueueSettings(s); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, "s", b.local.waitReceived(t, "s", 1, 10*time.Second), "m", 1)
}

// TestQueueOverflow fills a destination queue and checks that the overflow
// is reported and counted, not silent.
func TestQueueOverflow(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, testConfig("ov-a", "127.0.0.1"), testConfig("ov-b", "127.0.0.2"))
	a, b := ns[0], ns[1]
	b.local.add("s", "s", "c", "u", "/")
	s := a.QueueSettings()
	s.Delay, s.MaxDelay, s.MaxMessages = time.Hour, time.Hour, 10
	if err := a.SetQueueSettings(s); err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		k, err := a.Send(context.Background(), Message{Context: "c", User: "u", Data: fmt.Appendf(nil, "m-%d", i)})
		switch {
		case i < 10 && (err != nil || k != 1):
			t.Fatalf("Send %d = %d, %v; want queued", i, k, err)
		case i >= 10 && (!errors.Is(err, ErrQueueFull) || k != 0):
			t.Fatalf("Send %d = %d, %v; want ErrQueueFull", i, k, err)
		}
	}
	if m := a.Metrics(); m.DropsOverflow != 5 || m.Peers[0].QueueMessages != 10 {
		t.Fatalf("DropsOverflow = %d, queue = %+v; want 5 and 10", m.DropsOverflow, m.Peers)
	}
	s.Delay, s.MaxDelay = 0, 0
	if err := a.SetQueueSettings(s); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, "s", b.local.waitReceived(t, "s", 10, 5*time.Second), "m", 10)

	// MaxBytes bounds what messages take, context, user and path included:
	// messages of 1 KiB paths and no payload fill a 3,000-byte queue after
	// two.
	acked(t, a, 10)
	s.Delay, s.MaxDelay, s.MaxMessages, s.MaxBytes = time.Hour, time.Hour, 100, 3000
	if err := a.SetQueueSettings(s); err != nil {
		t.Fatal(err)
	}
	long := "/" + strings.Repeat("p", 999)
	for i := range 3 {
		k, err := a.Send(context.Background(), Message{Context: "c", User: "u", Path: long})
		if full := i == 2; full != errors.Is(err, ErrQueueFull) || (k == 1) == full {
			t.Fatalf("Send %d of a 1 KiB-path message = %d, %v; want the third to overflow", i, k, err)
		}
	}
	if m := a.Metrics(); m.DropsOverflow != 6 || m.Peers[0].QueueBytes > 3000 {
		t.Fatalf("DropsOverflow = %d, queue = %+v; want 6 and at most 3000 bytes", m.DropsOverflow, m.Peers)
	}
}

// TestLeave checks a graceful leave: queued messages are flushed first and
// the others stop counting the node at once.
func TestLeave(t *testing.T) {
	t.Parallel()
	a, b, c := threeNodes(t, "lv", nil)
	c.local.add("s", "s", "c", "u", "/")
	s := b.QueueSettings()
	s.Delay, s.MaxDelay = time.Hour, time.Hour
	if err := b.SetQueueSettings(s); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := b.Send(context.Background(), Message{Context: "c", User: "u", Data: fmt.Appendf(nil, "m-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	checkSequence(t, "s", c.local.received("s"), "m", 20)
	if _, err := b.Send(context.Background(), Message{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Leave: %v, want ErrClosed", err)
	}
	for _, n := range []*testNode{a, c} {
		eventually(t, 5*time.Second, n.Name()+" to see the leave", func() bool {
			for _, m := range n.Members() {
				if m.Name == b.Name() {
					return m.Status == StatusLeft
				}
			}
			return false
		})
	}
	res, err := a.Exists(context.Background(), Query{Context: "c", User: "nobody"}, ExistsOptions{})
	if err != nil || !res.Complete || res.Expected != 1 {
		t.Fatalf("Exists after leave = %+v, %v; want 1 member asked, complete", res, err)
	}
}

// acked waits until n's destinations acknowledged n messages in total.
func acked(t testing.TB, n *testNode, messages uint64) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%d messages acknowledged", messages), func() bool {
		return n.Metrics().MessagesSent >= messages
	})
}

// TestSendHammer sends from many goroutines at once, each to its own user,
// while another goroutine keeps changing the queue settings: every user's
// messages must still arrive complete, in order and once.
func TestSendHammer(t *testing.T) {
	t.Parallel()
	ns := startCluster(t, testConfig("hm-a", "127.0.0.1"), testConfig("hm-b", "127.0.0.2"))
	a, b := ns[0], ns[1]
	const senders, perSender = 8, 300
	for g := range senders {
		b.local.add(fmt.Sprintf("s%d", g), "s", "c", fmt.Sprintf("u%d", g), "/")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		settings := []QueueSettings{a.QueueSettings(), {Delay: 0, MaxDelay: 0, TimerFrequency: time.Millisecond, MaxMessages: 100_000, MaxBytes: 64 << 20}}
		settings = append(settings, QueueSettings{Delay: 3 * time.Millisecond, MaxDelay: 5 * time.Millisecond, TimerFrequency: time.Millisecond, MaxMessages: 100_000, MaxBytes: 64 << 20})
		for i := 0; ; i++ {
			if err := a.SetQueueSettings(settings[i%len(settings)]); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	var senderWG sync.WaitGroup
	for g := range senders {
		senderWG.Go(func() {
			for i := range perSender {
				msg := Message{Context: "c", User: fmt.Sprintf("u%d", g), Data: fmt.Appendf(nil, "m-%d", i)}
				if _, err := a.Send(context.Background(), msg); err != nil {
					t.Errorf("sender %d: %v", g, err)
					return
				}
			}
		})
	}
	senderWG.Wait()
	close(stop)
	wg.Wait()
	for g := range senders {
		id := fmt.Sprintf("s%d", g)
		checkSequence(t, id, b.local.waitReceived(t, id, perSender, 10*time.Second), "m", perSender)
	}
}
