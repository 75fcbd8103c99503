package wsconn

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

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
			dropped := 0
			for full() && len(c.queue) > 0 {
				c.queueBytes -= len(c.queue[0].data)
				c.queue[0] = outFrame{}
				c.queue = c.queue[1:]
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
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
	c.mu.Unlock()
	return nil
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
		c.queue, c.queueBytes = c.queue[:0], 0
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
	if !c.writing {
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

// writeScratch is reused across batches.
type writeScratch struct {
	buf  []byte // headers, small payloads, compressed payloads
	bufs net.Buffers
	offs []int
}

var scratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

// inlineMax is the largest payload copied next to its header; larger ones
// go out as their own iovec.
const inlineMax = 2048

func (c *Conn) writeFrames(q []outFrame) error {
	s := scratchPool.Get().(*writeScratch)
	defer func() {
		if cap(s.buf) <= 256<<10 {
			clear(s.bufs[:cap(s.bufs)])
			s.bufs, s.offs = s.bufs[:0], s.offs[:0]
			s.buf = s.buf[:0]
			scratchPool.Put(s)
		}
	}()
	st := c.cfg.Stats
	// Pass 1: compress eligible messages into s.buf, remembering offsets.
	s.buf = s.buf[:0]
	compressed := 0
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
	var dataFrames, wire int
	ci := 0
	for i := range q {
		f := &q[i]
		payload, rsv1 := f.data, false
		if ci < len(s.offs) && s.offs[ci] == i {
			payload, rsv1 = base[s.offs[ci+1]:s.offs[ci+2]], true
			if st != nil {
				st.DeflatedSavings.Add(int64(len(f.data) - len(payload)))
			}
			ci += 3
		}
		if f.op == wsproto.OpText || f.op == wsproto.OpBinary {
			dataFrames++
		}
		s.buf = wsproto.AppendHeader(s.buf, true, f.op, rsv1, len(payload))
		wire += wsproto.HeaderLen(len(payload)) + len(payload)
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
	_, err := bufs.WriteTo(c.nc)
	if err != nil {
		if st != nil {
			st.DroppedOut.Add(uint64(dataFrames))
		}
		return err
	}
	if st != nil {
		st.MessagesOut.Add(uint64(dataFrames))
		st.BytesOut.Add(uint64(wire))
		st.CompressedOut.Add(uint64(compressed))
	}
	return nil
}
