package gossip

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks on a three-node loopback cluster (127.0.0.1-3, encrypted
// gossip, HMAC-authenticated payload path). Run them without the race
// detector:
//
//	go test -run '^$' -bench . -benchtime 2s ./gossip/
//
// Latency benchmarks report p50_us and p99_us (microseconds) next to ns/op;
// throughput benchmarks report msgs/s and MB/s.

// benchLocal records when each numbered message arrives. The first 8 bytes
// of a message carry its number.
type benchLocal struct {
	mu       sync.Mutex
	arrivals []time.Time
	count    atomic.Int64
	notify   chan struct{}
	sockets  atomic.Int64 // what Count answers for user "present"
	record   atomic.Bool  // record arrival times (latency benchmarks)
}

var _ Local = (*benchLocal)(nil)

func newBenchLocal() *benchLocal { return &benchLocal{notify: make(chan struct{}, 1)} }

func (l *benchLocal) Count(_ context.Context, q Query) (int, error) {
	if q.User == "present" {
		return int(l.sockets.Load()), nil
	}
	return 0, nil
}

func (l *benchLocal) Deliver(_ context.Context, m Message) (int, error) {
	if len(m.Data) >= 8 && l.record.Load() {
		idx := binary.BigEndian.Uint64(m.Data)
		now := time.Now()
		l.mu.Lock()
		if idx < 1<<24 {
			for uint64(len(l.arrivals)) <= idx {
				l.arrivals = append(l.arrivals, time.Time{})
			}
			l.arrivals[idx] = now
		}
		l.mu.Unlock()
	}
	l.count.Add(1)
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return 1, nil
}

func (l *benchLocal) CloseSession(context.Context, string) (int, error) { return 0, nil }
func (l *benchLocal) Stats(context.Context) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

func (l *benchLocal) arrival(idx int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.arrivals[idx]
}

// waitCount waits until at least n messages arrived.
func (l *benchLocal) waitCount(b *testing.B, n int64) {
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for l.count.Load() < n {
		select {
		case <-l.notify:
		case <-timeout.C:
			b.Fatalf("only %d of %d messages arrived within 30s", l.count.Load(), n)
		}
	}
}

type benchCluster struct {
	nodes  []*Node
	locals []*benchLocal
}

func startBenchCluster(b *testing.B, q QueueSettings) *benchCluster {
	b.Helper()
	bc := &benchCluster{}
	for i := range 3 {
		cfg := testConfig(fmt.Sprintf("bench-%d", i), fmt.Sprintf("127.0.0.%d", i+1))
		cfg.Queue = q
		if i > 0 {
			cfg.Join = []string{bc.nodes[0].GossipAddr()}
		}
		local := newBenchLocal()
		n, err := New(cfg, local, testLogger())
		if err != nil {
			b.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(n.Shutdown)
		bc.nodes = append(bc.nodes, n)
		bc.locals = append(bc.locals, local)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range bc.nodes {
		for len(n.peerList()) != 2 || len(n.liveOthers()) != 2 {
			if time.Now().After(deadline) {
				b.Fatal("cluster did not form")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return bc
}

func benchQueues() map[string]QueueSettings {
	zero := DefaultQueueSettings()
	zero.Delay, zero.MaxDelay = 0, 0
	return map[string]QueueSettings{"delay=0": zero, "delay=default": DefaultQueueSettings()}
}

func reportPercentiles(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(p float64) float64 {
		return float64(samples[int(p*float64(len(samples)-1))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50_us")
	b.ReportMetric(at(0.99), "p99_us")
}

// sender numbers messages across benchmark rounds: a sub-benchmark's
// function runs several times (growing b.N) on the same cluster.
type sender struct {
	bc   *benchCluster
	next int
}

func (s *sender) send(b *testing.B, data []byte) int {
	idx := s.next
	s.next++
	binary.BigEndian.PutUint64(data, uint64(idx))
	if _, err := s.bc.nodes[0].Send(context.Background(), Message{Context: "c", User: "u", Binary: true, Data: data}); err != nil {
		b.Fatal(err)
	}
	return idx
}

func (s *sender) setQueue(b *testing.B, name string) {
	if err := s.bc.nodes[0].SetQueueSettings(benchQueues()[name]); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDeliveryLatency sends one message at a time from node 0 and
// measures until it reached Local.Deliver on node 1 and on node 2.
func BenchmarkDeliveryLatency(b *testing.B) {
	s := &sender{bc: startBenchCluster(b, DefaultQueueSettings())}
	for _, l := range s.bc.locals {
		l.record.Store(true)
	}
	for _, size := range []int{100, 64 << 10} {
		for _, name := range []string{"delay=0", "delay=default"} {
			b.Run(fmt.Sprintf("size=%d/%s", size, name), func(b *testing.B) {
				s.setQueue(b, name)
				data := make([]byte, size)
				samples := make([]time.Duration, 0, 2*b.N)
				b.SetBytes(int64(size))
				b.ResetTimer()
				for range b.N {
					start := time.Now()
					idx := s.send(b, data)
					for _, l := range s.bc.locals[1:] {
						l.waitCount(b, int64(idx+1))
						samples = append(samples, l.arrival(idx).Sub(start))
					}
				}
				b.StopTimer()
				reportPercentiles(b, samples)
			})
		}
	}
}

// BenchmarkDeliveryThroughput streams messages from node 0 to nodes 1 and
// 2, keeping at most 2,000 (100 B) or 200 (64 KiB) messages unacknowledged.
func BenchmarkDeliveryThroughput(b *testing.B) {
	s := &sender{bc: startBenchCluster(b, DefaultQueueSettings())}
	for _, size := range []int{100, 64 << 10} {
		window := 2000
		if size > 1<<10 {
			window = 200
		}
		for _, name := range []string{"delay=0", "delay=default"} {
			b.Run(fmt.Sprintf("size=%d/%s", size, name), func(b *testing.B) {
				s.setQueue(b, name)
				data := make([]byte, size)
				b.SetBytes(int64(size))
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					idx := s.send(b, data)
					if lag := idx + 1 - int(s.bc.locals[1].count.Load()); lag > window {
						s.bc.locals[1].waitCount(b, int64(idx+1-window/2))
					}
				}
				for _, l := range s.bc.locals[1:] {
					l.waitCount(b, int64(s.next))
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkExists measures Exists from node 0: positive (a socket on node
// 2, early return) and negative (no socket anywhere: every member answers).
func BenchmarkExists(b *testing.B) {
	bc := startBenchCluster(b, DefaultQueueSettings())
	bc.locals[2].sockets.Store(1)
	for _, tc := range []struct {
		name, user string
		found      bool
	}{{"positive", "present", true}, {"negative", "absent", false}} {
		b.Run(tc.name, func(b *testing.B) {
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				res, err := bc.nodes[0].Exists(context.Background(), Query{Context: "c", User: tc.user, Path: "*"}, ExistsOptions{})
				samples = append(samples, time.Since(start))
				if err != nil || res.Found != tc.found || (!tc.found && !res.Complete) {
					b.Fatalf("Exists = %+v, %v", res, err)
				}
			}
			b.StopTimer()
			reportPercentiles(b, samples)
		})
	}
}
