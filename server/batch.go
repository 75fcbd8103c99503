package server

import (
	"sync"

	"github.com/edgews/edgews/wasmhost"
)

// A read round's messages for a transcoder route are run through the
// transcoder together: the inbound messages of one read round in one
// batch, and the outbound messages sent to the socket during the round
// (echo replies, listeners' answers, sends from other goroutines) in
// another. With 16 messages in flight per socket that is two guest calls
// per round instead of 32 (ABI 1.1 batch exports; a 1.0 guest gets one
// call per message on one instance checkout). Messages wait at most for the end of their read
// round.

// msgBatch holds copies of messages, back to back in one buffer.
type msgBatch struct {
	msgs []batchMsg
	buf  []byte
	wm   []wasmhost.Msg // the messages as wasmhost takes them (wasmMsgs)
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
	clear(b.wm)
	b.wm = b.wm[:0]
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

// wasmMsgs returns the batch as wasmhost messages, pointing into b.buf
// (valid until the batch is put back).
func (b *msgBatch) wasmMsgs() []wasmhost.Msg {
	b.wm = b.wm[:0]
	for _, m := range b.msgs {
		b.wm = append(b.wm, wasmhost.Msg{Binary: m.t == BinaryMessage, Data: b.data(m)})
	}
	return b.wm
}

// pendingClose is a close a transcoder asked for during a read round.
type pendingClose struct {
	code uint16
	msg  string
}

// deferClose records a transcoder's close request if a read round is
// running (the round's end applies it) and reports whether it did. The
// first request wins.
func (sock *Socket) deferClose(code uint16, msg string) bool {
	sock.pmu.Lock()
	defer sock.pmu.Unlock()
	if !sock.inRound {
		return false
	}
	if sock.closeAsked == nil {
		sock.closeAsked = &pendingClose{code, msg}
	}
	return true
}

// pendInbound queues an inbound message of the current read round (read
// path only). It runs the batch at once when it is full. After the
// transcoder asked to close, the rest of the round is dropped, counted.
func (s *Server) pendInbound(sock *Socket, t MessageType, data []byte) {
	if sock.pendingIn == nil {
		sock.pmu.Lock()
		closing := sock.closeAsked != nil
		sock.pmu.Unlock()
		if closing {
			sock.route.stats.conn.DroppedIn.Add(1)
			return
		}
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
// is pending, then a close the transcoder asked for meanwhile (read path
// only).
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
			pc := sock.closeAsked
			sock.closeAsked = nil
			sock.pmu.Unlock()
			if pc != nil {
				sock.closeWith(pc.code, pc.msg, "transcoder")
			}
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
