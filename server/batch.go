package server

import "sync"

// A read round's messages for a transcoder route are run through the
// transcoder together: the inbound messages of one read round in one
// batch, and the outbound messages sent to the socket during the round
// (echo replies, listeners' answers, sends from other goroutines) in
// another. With 16 messages in flight per socket that is two guest calls
// per round instead of 32. Messages wait at most for the end of their read
// round.

// msgBatch holds copies of messages, back to back in one buffer.
type msgBatch struct {
	msgs []batchMsg
	buf  []byte
}

type batchMsg struct {
	t      MessageType
	off, n int
}

// Batch bounds: past them a batch is run at once, mid-round.
const (
	maxBatchMsgs  = 64
	maxBatchBytes = 1 << 20
)

var batchPool = sync.Pool{New: func() any { return new(msgBatch) }}

func getBatch() *msgBatch { return batchPool.Get().(*msgBatch) }

func putBatch(b *msgBatch) {
	b.msgs = b.msgs[:0]
	if cap(b.buf) > 4*maxBatchBytes {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	batchPool.Put(b)
}

func (b *msgBatch) add(t MessageType, data []byte) {
	b.msgs = append(b.msgs, batchMsg{t, len(b.buf), len(data)})
	b.buf = append(b.buf, data...)
}

func (b *msgBatch) full() bool { return len(b.msgs) >= maxBatchMsgs || len(b.buf) >= maxBatchBytes }

func (b *msgBatch) data(m batchMsg) []byte { return b.buf[m.off : m.off+m.n] }

// pendInbound queues an inbound message of the current read round (read
// path only). It runs the batch at once when it is full.
func (s *Server) pendInbound(sock *Socket, t MessageType, data []byte) {
	if sock.pendingIn == nil {
		sock.pendingIn = getBatch()
		sock.pmu.Lock()
		sock.inRound = true
		sock.pmu.Unlock()
	}
	sock.pendingIn.add(t, data)
	if sock.pendingIn.full() {
		s.runInbound(sock)
	}
}

// pendOutbound queues an outbound message while the socket's read round
// has messages pending; it reports false when no round is pending (the
// caller sends at once).
func (s *Server) pendOutbound(sock *Socket, t MessageType, data []byte) bool {
	sock.pmu.Lock()
	defer sock.pmu.Unlock()
	if !sock.inRound {
		return false
	}
	if sock.pendingOut == nil {
		sock.pendingOut = getBatch()
	}
	sock.pendingOut.add(t, data)
	return true
}

// runInbound runs the pending inbound batch (read path only).
func (s *Server) runInbound(sock *Socket) {
	b := sock.pendingIn
	if b == nil {
		return
	}
	sock.pendingIn = nil
	sock.tmu.Lock()
	err := sock.route.transcoder.inboundBatch(sock, b)
	sock.tmu.Unlock()
	putBatch(b)
	if err != nil {
		s.transcoderFailed(sock, "inbound", err)
	}
}

// endRound runs what the read round collected: the inbound batch (whose
// deliveries may send replies), then the outbound batches, until nothing
// is pending (read path only).
func (s *Server) endRound(sock *Socket) {
	if sock.pendingIn == nil && !sock.roundPending() {
		return
	}
	for {
		s.runInbound(sock)
		sock.pmu.Lock()
		out := sock.pendingOut
		sock.pendingOut = nil
		if out == nil {
			sock.inRound = false
			sock.pmu.Unlock()
			return
		}
		sock.pmu.Unlock()
		sock.tmu.Lock()
		err := sock.route.transcoder.outboundBatch(sock, out)
		sock.tmu.Unlock()
		putBatch(out)
		if err != nil {
			s.transcoderFailed(sock, "outbound", err)
		}
	}
}

func (sock *Socket) roundPending() bool {
	sock.pmu.Lock()
	defer sock.pmu.Unlock()
	return sock.inRound
}
