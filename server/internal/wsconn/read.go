package wsconn

import (
	"errors"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/edgews/edgews/server/internal/wsproto"
)

// readsPerRound bounds the reads of one OnReadable call, so one busy
// connection cannot hold a worker forever.
const readsPerRound = 16

// errStop ends a Feed without a protocol error: the peer's close arrived.
var errStop = errors.New("wsconn: stop reading")

// OnReadable implements netpoll.Handler.
func (c *Conn) OnReadable(buf []byte) bool {
	if c.finished {
		return false
	}
	c.beginRead()
	defer c.endRead()
	rs := readScratchPool.Get().(*readScratch)
	defer readScratchPool.Put(rs)
	for range readsPerRound {
		if c.dead.Load() {
			c.finish()
			return false
		}
		n, err := c.readRaw(rs, buf)
		if n > 0 {
			c.consume(buf[:n])
			continue
		}
		switch {
		case err == unix.EAGAIN:
			if c.dead.Load() {
				c.finish()
			}
			return false
		case err == unix.EINTR:
			continue
		case err != nil:
			c.abort(wsproto.CloseAbnormal, "", "read_error")
			c.finish()
			return false
		default: // n == 0: EOF
			c.eof()
			return false
		}
	}
	return true
}

// readScratch carries one read through syscall.RawConn.Read without
// allocating a closure per call.
type readScratch struct {
	buf []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var readScratchPool = sync.Pool{New: func() any {
	s := new(readScratch)
	s.fn = func(fd uintptr) bool {
		s.n, s.err = unix.Read(int(fd), s.buf)
		return true // never wait: EAGAIN goes back to the poller
	}
	return s
}}

// readRaw reads once, non-blocking. It goes through the RawConn, not
// the bare fd number, so a read can never reach another connection: if
// the conn was closed (by anyone), the number may already belong to a
// new socket, and RawConn.Read refuses instead of reading it.
func (c *Conn) readRaw(rs *readScratch, buf []byte) (int, error) {
	rs.buf = buf
	err := c.rc.Read(rs.fn)
	n, rerr := rs.n, rs.err
	rs.buf, rs.n, rs.err = nil, 0, nil
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// readLoop reads with a goroutine (TLS, or no poller).
func (c *Conn) readLoop() {
	buf := make([]byte, 4096)
	for {
		if c.dead.Load() {
			c.finish()
			return
		}
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.beginRead()
			c.consume(buf[:n])
			c.endRead()
		}
		if err != nil {
			switch {
			case c.dead.Load():
				c.finish()
			case errors.Is(err, io.EOF):
				c.eof()
			default:
				c.abort(wsproto.CloseAbnormal, "", "read_error")
				c.finish()
			}
			return
		}
	}
}

// eof handles the peer's end of stream.
func (c *Conn) eof() {
	c.mu.Lock()
	if c.cause == "" {
		c.code, c.cause = wsproto.CloseAbnormal, "eof"
	}
	c.mu.Unlock()
	c.finish()
}

// consume feeds bytes to the parser (read path only).
func (c *Conn) consume(data []byte) {
	now := time.Now().UnixNano()
	c.lastRead.Store(now)
	if st := c.cfg.Stats; st != nil {
		st.BytesIn.Add(uint64(len(data)))
	}
	if c.drain {
		return
	}
	err := c.parser.Feed(data, (*sink)(c))
	if err != nil {
		if err != errStop {
			c.settleRound()
		}
		var ce *wsproto.CloseError
		switch {
		case err == errControlFlood:
			c.drain = true
			c.closeWith(errControlFlood.Code, errControlFlood.Reason, "control_flood")
		case err == wsproto.ErrPartialBudget:
			// The node holds too many partly received messages: this one
			// is refused (the parser kept none of it), not the peer's fault.
			if st := c.cfg.Stats; st != nil {
				st.PartialBudget.Add(1)
			}
			c.drain = true
			c.closeWith(wsproto.ErrPartialBudget.Code, wsproto.ErrPartialBudget.Reason, "partial_budget")
		case errors.As(err, &ce):
			if st := c.cfg.Stats; st != nil {
				st.ProtocolErrors.Add(1)
				switch ce.Code {
				case wsproto.CloseTooBig:
					st.TooBig.Add(1)
				case wsproto.CloseInvalidPayload:
					st.InvalidUTF8.Add(1)
				}
			}
			c.drain = true
			c.closeWith(ce.Code, ce.Reason, "protocol_error")
		default: // errStop
			c.drain = true
		}
		c.parser.Reset() // input is drained from now on: give back what it held
		c.partialSince.Store(0)
		return
	}
	if c.parser.InProgress() {
		if c.partialSince.Load() == 0 {
			c.partialSince.Store(now)
		}
	} else if c.partialSince.Load() != 0 {
		c.partialSince.Store(0)
	}
}

// inflatePool holds buffers for decompressed messages.
var inflatePool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// sink adapts a Conn to wsproto.Sink without exporting the methods.
type sink Conn

func (s *sink) Message(op byte, payload []byte, compressed bool) error {
	c := (*Conn)(s)
	st := c.cfg.Stats
	if c.closing() {
		// Our close is on its way: input is no longer delivered.
		if st != nil {
			st.DroppedIn.Add(1)
		}
		return nil
	}
	if compressed {
		bp := inflatePool.Get().(*[]byte)
		defer func() {
			if cap(*bp) <= 1<<20 {
				inflatePool.Put(bp)
			}
		}()
		out, err := c.inflater.Inflate((*bp)[:0], payload, c.cfg.Parser.MaxMessage)
		*bp = out[:0]
		if errors.Is(err, wsproto.ErrTooBig) {
			return &wsproto.CloseError{Code: wsproto.CloseTooBig, Reason: "message too big after decompression"}
		}
		if err != nil {
			return err
		}
		if op == wsproto.OpText && !utf8.Valid(out) {
			return &wsproto.CloseError{Code: wsproto.CloseInvalidPayload, Reason: "text message is not valid UTF-8"}
		}
		if st != nil {
			st.CompressedIn.Add(1)
			st.Inflated.Add(uint64(len(out)))
		}
		payload = out
	}
	if st != nil {
		st.MessagesIn.Add(1)
	}
	c.h.OnMessage(c, op, payload)
	return nil
}

// errControlFlood ends reading a peer that sends control frames too fast.
var errControlFlood = &wsproto.CloseError{Code: wsproto.ClosePolicyViolation, Reason: "too many control frames"}

func (s *sink) Control(op byte, payload []byte) error {
	c := (*Conn)(s)
	if max := c.cfg.MaxControlRate; max > 0 && op != wsproto.OpClose {
		now := time.Now().Unix()
		if now != c.ctrlWindow {
			c.ctrlWindow, c.ctrlCount = now, 0
		}
		if c.ctrlCount++; c.ctrlCount > max {
			if st := c.cfg.Stats; st != nil {
				st.ControlFloods.Add(1)
			}
			return errControlFlood
		}
	}
	switch op {
	case wsproto.OpPing:
		if !c.closing() {
			_ = c.enqueue(wsproto.OpPong, payload, false)
		}
	case wsproto.OpClose:
		code, reason, err := wsproto.ParseClosePayload(payload)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.closeRecv = true
		ours := c.closeQueued
		written := c.closeWritten
		if c.cause == "" {
			c.code, c.reason, c.cause = code, reason, "peer"
		}
		c.mu.Unlock()
		switch {
		case ours && written:
			c.dead.Store(true) // handshake complete: finish on return
		case ours:
			// Our close is still queued; the writer finishes after it.
		default:
			reply := code
			if reply == wsproto.CloseNoStatus {
				reply = wsproto.CloseNormal
			}
			c.settleRound()
			c.closeWith(reply, "", "peer")
		}
		return errStop
	}
	return nil
}
