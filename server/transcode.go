package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/edgews/edgews/server/internal/wsproto"
	"github.com/edgews/edgews/wasmhost"
)

// wasmTranscoder adapts a wasmhost transcoder to a route. Every call runs
// with the socket's transcoder lock held (Socket.tmu); what the guest
// delivers to listeners is collected during the call and handed to the
// listeners after the lock is released, so a listener may send to the
// socket (which calls the transcoder again) without deadlock.
type wasmTranscoder struct {
	srv *Server
	t   *wasmhost.Transcoder
}

var _ transcoder = (*wasmTranscoder)(nil)

func (w *wasmTranscoder) name() string { return w.t.Name() }

// callHost is the wasmhost.Host of one call: the socket, plus what the
// call produced that must wait until it returns.
type callHost struct {
	s          *Socket
	deliveries []delivery
	buf        []byte // delivered payloads, back to back
	closeCode  uint16
	closeMsg   string
	closing    bool
}

type delivery struct {
	binary bool
	off, n int
}

var _ wasmhost.Host = (*callHost)(nil)

var callHostPool = sync.Pool{New: func() any { return new(callHost) }}

func (h *callHost) WriteFrame(binary bool, data []byte) error {
	op := wsproto.OpText
	if binary {
		op = wsproto.OpBinary
	}
	return h.s.conn.Write(op, data)
}

func (h *callHost) Deliver(binary bool, data []byte) error {
	h.deliveries = append(h.deliveries, delivery{binary, len(h.buf), len(data)})
	h.buf = append(h.buf, data...)
	return nil
}

func (h *callHost) Close(code uint16, reason string) {
	h.closing, h.closeCode, h.closeMsg = true, code, reason
}

func (h *callHost) Attr(key string) ([]byte, bool) {
	v, ok := h.s.attrs.Get(key)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		return []byte(x), true
	}
	return nil, false
}

func (h *callHost) SetAttr(key string, value []byte) {
	if value == nil {
		h.s.attrs.Delete(key)
		return
	}
	h.s.attrs.Set(key, append([]byte(nil), value...))
}

func (h *callHost) ArmTimer(id uint32, after time.Duration) {
	h.s.armTimer(id, after)
}

// run makes one call with the socket's transcoder lock held, then (lock
// released) delivers what the guest delivered, applies a requested close,
// and closes the socket on failure.
func (w *wasmTranscoder) run(s *Socket, call string, f func(*callHost) error) error {
	h := callHostPool.Get().(*callHost)
	h.s = s
	err := f(h)
	closing, code, msg := h.closing, h.closeCode, h.closeMsg
	if len(h.deliveries) > 0 {
		s.tmu.Unlock()
		for _, d := range h.deliveries {
			t := TextMessage
			if d.binary {
				t = BinaryMessage
			}
			w.srv.deliver(s, Message{Type: t, Data: h.buf[d.off : d.off+d.n]})
		}
		s.tmu.Lock()
	}
	h.reset()
	callHostPool.Put(h)
	if closing && !s.deferClose(code, msg) {
		s.closeWith(code, msg, "transcoder")
	}
	return err
}

func (h *callHost) reset() {
	h.s = nil
	h.deliveries = h.deliveries[:0]
	if cap(h.buf) > 64<<10 {
		h.buf = nil
	} else {
		h.buf = h.buf[:0]
	}
	h.closing, h.closeCode, h.closeMsg = false, 0, ""
}

func (w *wasmTranscoder) ctx() context.Context { return w.srv.ctx }

func (w *wasmTranscoder) open(s *Socket) error {
	return w.run(s, "open", func(h *callHost) error {
		return w.t.Open(w.ctx(), h, wasmhost.SocketInfo{
			ID: s.id, SessionID: s.sess.id, User: s.sess.user, Context: s.sess.context,
			Path: s.path, RawQuery: stripSession(s.rawQuery, w.srv.cfg.Load().Session.Param), RemoteAddr: s.remote,
		})
	})
}

func (w *wasmTranscoder) inbound(s *Socket, t MessageType, data []byte) error {
	return w.run(s, "inbound", func(h *callHost) error { return w.t.Inbound(w.ctx(), h, t == BinaryMessage, data) })
}

func (w *wasmTranscoder) outbound(s *Socket, t MessageType, data []byte) error {
	return w.run(s, "outbound", func(h *callHost) error { return w.t.Outbound(w.ctx(), h, t == BinaryMessage, data) })
}

// inboundBatch runs a read round's messages through the guest in as few
// calls as the ABI allows. Messages it left unhandled (after a failure, or
// after the one whose handler asked to close) are counted as dropped.
func (w *wasmTranscoder) inboundBatch(s *Socket, b *msgBatch) error {
	return w.run(s, "inbound", func(h *callHost) error {
		n, err := w.t.InboundBatch(w.ctx(), h, b.wasmMsgs())
		if rest := len(b.msgs) - n; rest > 0 {
			s.route.stats.conn.DroppedIn.Add(uint64(rest))
		}
		return err
	})
}

// outboundBatch is inboundBatch for messages bound for the browser; what
// the guest left unhandled was not written, and counts as dropped out.
func (w *wasmTranscoder) outboundBatch(s *Socket, b *msgBatch) error {
	return w.run(s, "outbound", func(h *callHost) error {
		n, err := w.t.OutboundBatch(w.ctx(), h, b.wasmMsgs())
		if rest := len(b.msgs) - n; rest > 0 {
			s.route.stats.conn.DroppedOut.Add(uint64(rest))
		}
		return err
	})
}

func (w *wasmTranscoder) closed(s *Socket, code uint16, reason string) {
	s.stopTimers()
	err := w.run(s, "closed", func(h *callHost) error { return w.t.Closed(w.ctx(), h, code, reason) })
	if err != nil && !errors.Is(err, wasmhost.ErrClosed) {
		w.srv.log.Warn("transcoder close call failed", "socket", s.id, "transcoder", w.name(), "error", err)
	}
}

func (w *wasmTranscoder) timer(s *Socket, id uint32) error {
	return w.run(s, "timer", func(h *callHost) error { return w.t.Timer(w.ctx(), h, id) })
}

// socketTimer is a timer a transcoder armed for its socket.
type socketTimer struct {
	id uint32
	t  *time.Timer
}

// armTimer (re)arms transcoder timer id; after <= 0 cancels. Called with
// s.tmu held.
func (s *Socket) armTimer(id uint32, after time.Duration) {
	for i, st := range s.timers {
		if st.id == id {
			st.t.Stop()
			if after <= 0 {
				s.timers = append(s.timers[:i], s.timers[i+1:]...)
				return
			}
			st.t.Reset(after)
			return
		}
	}
	if after <= 0 || s.timersStopped {
		return
	}
	s.timers = append(s.timers, socketTimer{id: id, t: time.AfterFunc(after, func() { s.fireTimer(id) })})
}

// fireTimer runs a transcoder timer on its own goroutine.
func (s *Socket) fireTimer(id uint32) {
	tr := s.route.transcoder
	if tr == nil {
		return
	}
	s.tmu.Lock()
	if s.timersStopped {
		s.tmu.Unlock()
		return
	}
	for i, st := range s.timers {
		if st.id == id {
			s.timers = append(s.timers[:i], s.timers[i+1:]...)
			break
		}
	}
	err := tr.timer(s, id)
	s.tmu.Unlock()
	if err != nil {
		s.srv.transcoderFailed(s, "timer", err)
	}
}

// stopTimers cancels every transcoder timer of the socket (s.tmu held).
func (s *Socket) stopTimers() {
	s.timersStopped = true
	for _, st := range s.timers {
		st.t.Stop()
	}
	s.timers = nil
}

// stripSession removes the session parameter from a raw query.
func stripSession(raw, param string) string {
	if !strings.Contains(raw, param+"=") {
		return raw
	}
	parts := strings.Split(raw, "&")
	out := parts[:0]
	for _, p := range parts {
		if !strings.HasPrefix(p, param+"=") {
			out = append(out, p)
		}
	}
	return strings.Join(out, "&")
}
