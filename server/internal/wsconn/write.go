package wsconn

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgews/edgews/server/internal/wsproto"
)

// Write queues a data message (wsproto.OpText or OpBinary); data is copied.
// It never blocks on the network.
func (c *Conn) Write(op byte, data []byte) error { return c.enqueue(op, data, false) }

// WriteOwned queues a data message without copying it; the caller must not
// modify data afterwards (it may be shared by many connections).
func (c *Conn) WriteOwned(op byte, data []byte) error { return c.enqueue(op, data, true) }

// Close starts the close handshake with code and reason after the messages
// already queued. It returns at once.
func (c *Conn) Close(code uint16, reason string) {
	c.closeWith(code, reason, "server")
}

// CloseWith is Close with the cause reported to Handler.OnClose.
func (c *Conn) CloseWith(code uint16, reason, cause string) {
	c.closeWith(code, reason, cause)
}

// Abort drops the connection without a close handshake.
func (c *Conn) Abort(cause string) {
	c.abort(wsproto.CloseAbnormal, "", cause)
}

// closing reports whether our close frame is queued.
func (c *Conn) closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeQueued
}

// QueueLen returns the number of queued frames.
func (c *Conn) QueueLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

func (c *Conn) enqueue(op byte, data []byte, owned bool) error {
	st := c.cfg.Stats
	isData := op == wsproto.OpText || op == wsproto.OpBinary
	c.mu.Lock()
	if c.closeQueued || c.dead.Load() {
		c.mu.Unlock()
		if isData && st != nil {
			st.DroppedOut.Add(1)
		}
		return wsproto.ErrClosed
	}
	maxN, maxB := c.cfg.MaxQueueMessages, c.cfg.MaxQueueBytes
	full := func() bool {
		return (maxN > 0 && len(c.queue) >= maxN) || (maxB > 0 && c.queueBytes+len(data) > maxB)
	}
	if full() {
		if c.cfg.OnFull == DropOldest && (maxB <= 0 || len(data) <= maxB) {
			// Drop the oldest data messages; a raw remainder is the rest of
			// a frame already partly on the wire and must stay first.
			dropped := 0
			for full() {
				i := 0
				for i < len(c.queue) && c.queue[i].op == opRaw {
					i++
				}
				if i == len(c.queue) {
					break
				}
				c.queueBytes -= len(c.queue[i].data)
				c.queue = append(c.queue[:i], c.queue[i+1:]...)
				dropped++
			}
			if st != nil {
				st.DroppedOut.Add(uint64(dropped))
			}
		} else {
			c.mu.Unlock()
			if st != nil {
				st.DroppedOut.Add(1)
				st.SlowClosed.Add(1)
			}
			c.closeSlow()
			return ErrQueueFull
		}
	}
	if !owned && len(data) > 0 {
		data = append([]byte(nil), data...)
	}
	c.queue = append(c.queue, outFrame{op: op, data: data})
	c.queueBytes += len(data)
	if c.writing || c.inRead {
		c.mu.Unlock() // the writer, or the end of the read round, sends it
		return nil
	}
	c.writing = true
	c.mu.Unlock()
	c.flush()
	return nil
}

// beginRead marks the read path as running: messages queued meanwhile are
// written together when endRead flushes them.
func (c *Conn) beginRead() {
	c.mu.Lock()
	c.inRead = true
	c.mu.Unlock()
}

// settleRound lets the handler finish the messages that arrived before
// whatever is about to close the connection (a protocol error, the peer's
// close frame), so that their replies are queued ahead of our close frame:
// a handler that batches per round would otherwise find the connection
// closing at the round's end and drop them. Read path only; the round's
// own OnReadEnd then finds nothing left.
func (c *Conn) settleRound() {
	if !c.finished {
		c.h.OnReadEnd(c)
	}
}

// endRead lets the handler finish the round, then flushes what the round
// queued, with one write.
func (c *Conn) endRead() {
	if !c.finished {
		c.h.OnReadEnd(c)
	}
	c.mu.Lock()
	c.inRead = false
	start := len(c.queue) > 0 && !c.writing && !c.dead.Load()
	if start {
		c.writing = true
	}
	c.mu.Unlock()
	if start {
		c.flush()
	}
}

// closeSlow drops what is queued and closes: the peer is not reading.
func (c *Conn) closeSlow() {
	c.mu.Lock()
	dropped := 0
	for _, f := range c.queue {
		if f.op == wsproto.OpText || f.op == wsproto.OpBinary {
			dropped++
		}
	}
	if !c.closeQueued {
		// Keep only a raw remainder (the rest of a frame partly on the
		// wire), so the close frame after it is still read as a frame.
		kept := c.queue[:0]
		for _, f := range c.queue {
			if f.op == opRaw {
				kept = append(kept, f)
			}
		}
		c.queue, c.queueBytes = kept, 0
		for _, f := range kept {
			c.queueBytes += len(f.data)
		}
	} else {
		dropped = 0
	}
	c.mu.Unlock()
	if dropped > 0 && c.cfg.Stats != nil {
		c.cfg.Stats.DroppedOut.Add(uint64(dropped))
	}
	code := c.cfg.FullCloseCode
	if code == 0 {
		code = wsproto.ClosePolicyViolation
	}
	c.closeWith(code, "slow consumer: outbound queue full", "slow_consumer")
	// The writer is most likely stuck on a peer that does not read: give the
	// write in progress (and the close frame) only the close timeout.
	timeout := c.cfg.CloseTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
}

// closeWith queues our close frame after what is queued.
func (c *Conn) closeWith(code uint16, reason, cause string) {
	c.mu.Lock()
	if c.closeQueued || c.dead.Load() {
		c.mu.Unlock()
		return
	}
	c.closeQueued = true
	if c.cause == "" {
		c.code, c.reason, c.cause = code, reason, cause
	}
	c.queue = append(c.queue, outFrame{op: wsproto.OpClose, data: wsproto.ClosePayload(code, reason)})
	timeout := c.cfg.CloseTimeout + c.cfg.WriteTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c.closeDeadline.Store(time.Now().Add(timeout).UnixNano())
	if !c.writing && !c.inRead {
		c.writing = true
		go c.writeLoop()
	}
	c.mu.Unlock()
}

// writeLoop runs while there is something to write.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		q := c.queue
		c.queue, c.queueBytes = nil, 0
		if len(q) == 0 || c.dead.Load() {
			if c.cfg.WriteTimeout > 0 && !c.dead.Load() {
				// Drop the deadline writeFrames set: writes that go inline
				// (through RawConn.Write, which refuses to run once a
				// deadline has passed) would fail after it. Always, not only
				// when the conn writes inline already: a frame written
				// before Serve comes here before the conn is handed to
				// epoll, and writes inline once it is.
				_ = c.nc.SetWriteDeadline(time.Time{})
			}
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		closeFrame := q[len(q)-1].op == wsproto.OpClose
		err := c.writeFrames(q)
		clear(q)
		if err != nil {
			cause := "write_error"
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.dead.Load() && c.cfg.Stats != nil {
				c.cfg.Stats.WriteTimeouts.Add(1)
				cause = "write_timeout"
			}
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			c.abort(wsproto.CloseAbnormal, "", cause)
			return
		}
		if closeFrame {
			c.mu.Lock()
			c.closeWritten = true
			c.writing = false
			recv := c.closeRecv
			c.mu.Unlock()
			if recv {
				c.abort(0, "", "") // handshake complete: drop TCP first
				return
			}
			timeout := c.cfg.CloseTimeout
			if timeout <= 0 {
				timeout = 5 * time.Second
			}
			c.closeDeadline.Store(time.Now().Add(timeout).UnixNano())
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite() // FIN after our close frame
			}
			return
		}
	}
}

// writeScratch holds one encoded batch; it is reused across batches.
type writeScratch struct {
	buf  []byte      // headers, small payloads, compressed payloads
	bufs net.Buffers // the batch as iovecs, in order
	offs []int       // compression bookkeeping: frame index, start, end
	ends []int       // wire offset where each frame ends
	data []int       // data messages completed by each frame (0 or 1; a raw remainder may complete several)

	// For inline writes through syscall.RawConn.Write without allocating.
	iov []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var scratchPool = sync.Pool{New: func() any {
	s := new(writeScratch)
	s.fn = func(fd uintptr) bool {
		s.n, s.err = unix.Writev(int(fd), s.bufs)
		return true
	}
	return s
}}

func putScratch(s *writeScratch) {
	if cap(s.buf) > 256<<10 {
		return
	}
	clear(s.bufs[:cap(s.bufs)])
	s.bufs, s.offs, s.ends, s.data = s.bufs[:0], s.offs[:0], s.ends[:0], s.data[:0]
	s.buf = s.buf[:0]
	s.n, s.err = 0, nil
	scratchPool.Put(s)
}

// inlineMax is the largest payload copied next to its header; larger ones
// go out as their own iovec.
const inlineMax = 2048

// opRaw marks an outFrame whose data is already encoded wire bytes (the
// unwritten rest of a batch); it completes count data messages.
const opRaw byte = 0xff

// encode lays a batch out in s: compressed payloads first, then headers
// and small payloads in one buffer, large payloads as their own iovecs.
func (c *Conn) encode(s *writeScratch, q []outFrame) (compressed, wire int) {
	st := c.cfg.Stats
	s.buf = s.buf[:0]
	if c.deflater != nil {
		for i := range q {
			f := &q[i]
			if (f.op == wsproto.OpText || f.op == wsproto.OpBinary) && len(f.data) >= c.cfg.CompressMin {
				start := len(s.buf)
				s.buf = c.deflater.Compress(s.buf, f.data)
				s.offs = append(s.offs, i, start, len(s.buf))
				compressed++
			}
		}
	}
	// Size the rest so that appends below never move s.buf.
	need := len(s.buf)
	for i := range q {
		need += wsproto.MaxHeaderLen
		if len(q[i].data) <= inlineMax {
			need += len(q[i].data)
		}
	}
	if cap(s.buf) < need {
		nb := make([]byte, len(s.buf), need)
		copy(nb, s.buf)
		s.buf = nb
	}
	base := s.buf[:len(s.buf)] // compressed payloads live here
	segStart := len(s.buf)
	ci := 0
	for i := range q {
		f := &q[i]
		if f.op == opRaw {
			if segStart < len(s.buf) {
				s.bufs = append(s.bufs, s.buf[segStart:len(s.buf)])
				segStart = len(s.buf)
			}
			s.bufs = append(s.bufs, f.data)
			wire += len(f.data)
			s.ends = append(s.ends, wire)
			s.data = append(s.data, f.count)
			continue
		}
		payload, rsv1 := f.data, false
		if ci < len(s.offs) && s.offs[ci] == i {
			payload, rsv1 = base[s.offs[ci+1]:s.offs[ci+2]], true
			if st != nil {
				st.DeflatedSavings.Add(int64(len(f.data) - len(payload)))
			}
			ci += 3
		}
		s.buf = wsproto.AppendHeader(s.buf, true, f.op, rsv1, len(payload))
		wire += wsproto.HeaderLen(len(payload)) + len(payload)
		n := 0
		if f.op == wsproto.OpText || f.op == wsproto.OpBinary {
			n = 1
		}
		s.ends = append(s.ends, wire)
		s.data = append(s.data, n)
		if len(payload) <= inlineMax && !rsv1 {
			s.buf = append(s.buf, payload...)
			continue
		}
		s.bufs = append(s.bufs, s.buf[segStart:len(s.buf)], payload)
		segStart = len(s.buf)
	}
	if segStart < len(s.buf) {
		s.bufs = append(s.bufs, s.buf[segStart:len(s.buf)])
	}
	return compressed, wire
}

// account counts what a write of n bytes of an encoded batch completed.
func (c *Conn) account(s *writeScratch, n, compressed int) {
	st := c.cfg.Stats
	if st == nil {
		return
	}
	msgs := 0
	for i, end := range s.ends {
		if end > n {
			break
		}
		msgs += s.data[i]
	}
	st.MessagesOut.Add(uint64(msgs))
	st.BytesOut.Add(uint64(n))
	st.CompressedOut.Add(uint64(compressed))
}

// writeFrames writes a batch, blocking (at most WriteTimeout per batch).
func (c *Conn) writeFrames(q []outFrame) error {
	s := scratchPool.Get().(*writeScratch)
	defer putScratch(s)
	compressed, wire := c.encode(s, q)
	if c.cfg.WriteTimeout > 0 {
		if c.dead.Load() {
			return wsproto.ErrClosed
		}
		c.mu.Lock()
		slow := c.cause == "slow_consumer"
		c.mu.Unlock()
		if !slow { // closeSlow set a shorter deadline
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
		}
	}
	bufs := s.bufs
	n, err := bufs.WriteTo(c.nc)
	c.account(s, int(n), compressed)
	if err != nil {
		if st := c.cfg.Stats; st != nil {
			undelivered := 0
			for i, end := range s.ends {
				if end > int(n) {
					undelivered += s.data[i]
				}
			}
			st.DroppedOut.Add(uint64(undelivered))
		}
		return err
	}
	_ = wire
	return nil
}

// writeInline tries to write a batch without blocking, on the caller's
// goroutine (a plain TCP socket read by epoll, no compression). It returns
// what is left to write (nil when all went out), as the original frames
// when nothing was written, or as one raw frame with the unwritten bytes.
func (c *Conn) writeInline(rc syscall.RawConn, q []outFrame) ([]outFrame, error) {
	s := scratchPool.Get().(*writeScratch)
	defer putScratch(s)
	compressed, wire := c.encode(s, q)
	if err := rc.Write(s.fn); err != nil {
		return nil, err
	}
	n, err := s.n, s.err
	if n < 0 {
		n = 0
	}
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		return nil, err
	}
	c.account(s, n, compressed)
	if n == wire {
		return nil, nil
	}
	if n == 0 {
		return q, nil
	}
	// Partly written: the rest goes out as raw bytes, completing the data
	// messages not yet fully written.
	rest := make([]byte, 0, wire-n)
	off := 0
	for _, b := range s.bufs {
		if off+len(b) > n {
			skip := max(0, n-off)
			rest = append(rest, b[skip:]...)
		}
		off += len(b)
	}
	count := 0
	for i, end := range s.ends {
		if end > n {
			count += s.data[i]
		}
	}
	return []outFrame{{op: opRaw, data: rest, count: count}}, nil
}

// flush writes what is queued. The caller has set c.writing. Plain TCP
// sockets read by epoll are written inline, on the caller's goroutine,
// while the kernel takes the bytes without blocking; what would block,
// and everything else (TLS, compression, close frames), goes to a writer
// goroutine that may block for up to WriteTimeout.
func (c *Conn) flush() {
	c.mu.Lock()
	rc := c.rc
	c.mu.Unlock()
	if rc == nil || c.deflater != nil {
		go c.writeLoop()
		return
	}
	for range 4 {
		c.mu.Lock()
		q := c.queue
		if len(q) == 0 || c.dead.Load() {
			c.writing = false
			c.mu.Unlock()
			return
		}
		for _, f := range q {
			if f.op == wsproto.OpClose {
				c.mu.Unlock()
				go c.writeLoop()
				return
			}
		}
		c.queue, c.queueBytes = nil, 0
		c.mu.Unlock()
		rest, err := c.writeInline(rc, q)
		if err != nil {
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			c.abort(wsproto.CloseAbnormal, "", "write_error")
			return
		}
		if len(rest) > 0 {
			c.mu.Lock()
			c.queue = append(rest, c.queue...)
			c.queueBytes = 0
			for _, f := range c.queue {
				c.queueBytes += len(f.data)
			}
			c.mu.Unlock()
			go c.writeLoop() // the socket is full: wait for it on a goroutine
			return
		}
	}
	go c.writeLoop() // still busy after a few rounds: hand over
}
