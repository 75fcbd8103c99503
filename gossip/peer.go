package gossip

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgews/edgews/gossip/internal/wire"
)

// outMsg is a message bound for other members. One outMsg is shared by all
// destination queues and never modified after Send.
type outMsg struct {
	msg  wire.Msg
	size int // bytes in a batch body
}

type entry struct {
	m  *outMsg
	at time.Time // when it was queued
}

type dropReason int

const (
	dropNodeGone dropReason = iota
	dropShutdown
)

// peer is the remote queue for one destination member incarnation: a
// bounded FIFO and the goroutine (run) that sends it in batches, one batch
// in flight at a time. Each peer has its own stream id; batch sequence
// numbers count up from 1 within the stream, so a retried batch is
// recognised by the receiver, and a new incarnation on either side starts a
// new stream.
type peer struct {
	n      *Node
	name   string
	boot   uint64
	stream uint64
	url    atomic.Pointer[string]
	seq    uint64 // last acknowledged batch; run goroutine only

	mu       sync.Mutex
	q        []entry
	head     int
	bytes    int64 // encoded size (outMsg.size) of q[head:]
	last     time.Time
	inflight int
	flush    bool
	closed   bool
	failed   bool        // member declared failed; queue kept for the grace
	grace    *time.Timer // drops the queue at the end of the grace; guarded by n.mu

	kick   chan struct{}
	done   chan struct{}
	ctx    context.Context // cancels the request in flight on close
	cancel context.CancelFunc
}

func (n *Node) newPeer(name string, boot uint64, url string) *peer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{
		n:      n,
		name:   name,
		boot:   boot,
		stream: rand.Uint64() | 1, // never 0
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	p.setURL(url)
	return p
}

func (p *peer) setURL(u string) { p.url.Store(&u) }

type enqueueResult int

const (
	enqueued enqueueResult = iota
	queueFull
	queueClosed
)

// enqueue adds m unless the queue is full or closed.
func (p *peer) enqueue(m *outMsg, now time.Time, s *QueueSettings) enqueueResult {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return queueClosed
	}
	if len(p.q)-p.head >= s.MaxMessages || p.bytes+int64(m.size) > s.MaxBytes {
		p.mu.Unlock()
		return queueFull
	}
	p.q = append(p.q, entry{m: m, at: now})
	p.bytes += int64(m.size)
	p.last = now
	p.mu.Unlock()
	p.wake()
	return enqueued
}

func (p *peer) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// flushNow makes every batch due at once (used by Leave).
func (p *peer) flushNow() {
	p.mu.Lock()
	p.flush = true
	p.mu.Unlock()
	p.wake()
}

// setFailed marks or clears the failure of the peer's member and reports
// whether the state changed. Callers hold n.mu.
func (p *peer) setFailed(failed bool) bool {
	p.mu.Lock()
	changed := p.failed != failed
	p.failed = failed
	p.mu.Unlock()
	if changed && !failed {
		if p.grace != nil {
			p.grace.Stop()
			p.grace = nil
		}
		p.wake()
	}
	return changed
}

func (p *peer) isFailed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// pending counts queued and in-flight messages of a member that is not
// failed.
func (p *peer) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.failed {
		return 0
	}
	return len(p.q) - p.head + p.inflight
}

func (p *peer) metrics() PeerMetrics {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PeerMetrics{Name: p.name, QueueMessages: len(p.q) - p.head, QueueBytes: p.bytes, InFlight: p.inflight, Failed: p.failed}
}

// close drops the queue and stops the sender. Messages still queued or in
// flight are counted as dropped for reason.
func (p *peer) close(reason dropReason) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	dropped := uint64(len(p.q) - p.head + p.inflight)
	p.q, p.head, p.bytes, p.inflight = nil, 0, 0, 0
	p.mu.Unlock()
	p.cancel()
	close(p.done)
	switch reason {
	case dropNodeGone:
		p.n.m.dropsNodeGone.Add(dropped)
	case dropShutdown:
		p.n.m.dropsShutdown.Add(dropped)
	}
	if dropped > 0 && reason == dropNodeGone {
		p.n.log.Info("gossip: dropped the queue of a member that is gone",
			slog.String("member", p.name), slog.Uint64("messages", dropped))
	}
}

// batchDue decides whether the pending messages form a due batch. It is a
// pure function of the queue state so the rule can be tested on its own.
func batchDue(s *QueueSettings, now, oldest, newest time.Time, count int, bytes int64, maxMsgs, maxBytes int) bool {
	switch {
	case count == 0:
		return false
	case s.Delay <= 0,
		count >= maxMsgs,
		bytes >= int64(maxBytes),
		now.Sub(newest) >= s.Delay,
		now.Sub(oldest) >= s.MaxDelay:
		return true
	}
	return false
}

// take removes the next batch if it is due. waiting reports queued
// messages that are not due yet.
func (p *peer) take(now time.Time) (batch []*outMsg, waiting bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	count := len(p.q) - p.head
	if p.closed || count == 0 {
		return nil, false
	}
	cfg := &p.n.cfg
	if !p.flush && !batchDue(p.n.queue.Load(), now, p.q[p.head].at, p.last, count, p.bytes, cfg.MaxBatchMessages, cfg.MaxBatchBytes) {
		return nil, true
	}
	size := 0
	for p.head < len(p.q) && len(batch) < cfg.MaxBatchMessages {
		m := p.q[p.head].m
		if len(batch) > 0 && size+m.size > cfg.MaxBatchBytes {
			break
		}
		batch = append(batch, m)
		size += m.size
		p.bytes -= int64(m.size)
		p.q[p.head] = entry{}
		p.head++
	}
	// Reclaim the consumed prefix once it dominates the slice.
	if p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	} else if p.head > 1024 && p.head > len(p.q)/2 {
		rest := copy(p.q, p.q[p.head:])
		clear(p.q[rest:])
		p.q, p.head = p.q[:rest], 0
	}
	p.inflight = len(batch)
	return batch, false
}

// run sends batches until the peer is closed.
func (p *peer) run() {
	defer p.n.wg.Done()
	var timer *time.Timer
	var tick <-chan time.Time // set while a check is scheduled
	var armed time.Duration   // the TimerFrequency it was scheduled with
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		batch, waiting := p.take(time.Now())
		if batch != nil {
			if !p.deliver(batch) {
				return
			}
			continue
		}
		// Schedule the next check, or reschedule it if SetQueueSettings
		// changed TimerFrequency since: a check scheduled with the old
		// setting (possibly far ahead) must not hold waiting messages.
		if d := p.n.queue.Load().TimerFrequency; waiting && (tick == nil || d != armed) {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			tick, armed = timer.C, d
		}
		select {
		case <-p.kick:
		case <-tick:
			tick = nil
		case <-p.done:
			return
		}
	}
}

// deliver sends one batch, retrying until the destination acknowledges it
// or the peer is closed. It returns false when the peer is closed.
func (p *peer) deliver(batch []*outMsg) bool {
	seq := p.seq + 1
	size := wire.BatchHeaderSize
	msgs := make([]wire.Msg, len(batch))
	for i, m := range batch {
		msgs[i] = m.msg
		size += m.size
	}
	body := wire.AppendBatch(make([]byte, 0, size), p.stream, seq, p.boot, msgs)
	backoff := 10 * time.Millisecond
	for {
		start := time.Now()
		ctx, cancel := context.WithTimeout(p.ctx, p.n.cfg.DeliveryTimeout)
		status, _, err := p.n.post(ctx, p.name, *p.url.Load(), pathBatch, body, maxSmallResponse)
		cancel()
		switch {
		case err == nil && status == http.StatusNoContent:
			p.seq = seq
			p.n.m.batchLatency.observe(time.Since(start))
			p.n.m.batchesSent.Add(1)
			p.n.m.messagesSent.Add(uint64(len(batch)))
			p.n.m.bytesSent.Add(uint64(len(body)))
			p.finish()
			return true
		case err == nil && status == http.StatusConflict:
			// The address now serves another incarnation of the member;
			// what was queued was for sockets that died with the old one.
			p.n.warnLimited("stale:"+p.name, "gossip: member restarted; dropping its queue", slog.String("member", p.name))
			p.n.removePeer(p)
			p.close(dropNodeGone)
			return false
		case err == nil && (status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge):
			// The member refuses this batch for good (its limits differ
			// from ours). Skip it: the gap in sequence numbers is fine.
			p.seq = seq
			p.n.m.dropsRejected.Add(uint64(len(batch)))
			p.n.warnLimited("rejected:"+p.name, "gossip: member rejected a batch; check that MaxMessageSize and batch limits match",
				slog.String("member", p.name), slog.Int("status", status), slog.Int("messages", len(batch)))
			p.finish()
			return true
		}
		select {
		case <-p.done:
			return false
		default:
		}
		p.n.m.batchRetries.Add(1)
		if err == nil && status == http.StatusUnauthorized {
			p.n.m.peerAuthRejection.Add(1)
		}
		p.n.warnLimited("retry:"+p.name, "gossip: batch delivery failed, retrying",
			slog.String("member", p.name), slog.Int("status", status), slog.Any("error", err))
		t := time.NewTimer(backoff + rand.N(backoff/2))
		select {
		case <-t.C:
		case <-p.done:
			t.Stop()
			return false
		}
		backoff = min(2*backoff, time.Second)
	}
}

// finish marks the batch in flight as done.
func (p *peer) finish() {
	p.mu.Lock()
	p.inflight = 0
	p.mu.Unlock()
}
