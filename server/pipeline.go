package server

import (
	"context"
	"log/slog"

	"github.com/edgews/edgews/server/internal/wsproto"
)

// inbound handles a whole message from the browser (read path).
func (s *Server) inbound(sock *Socket, t MessageType, data []byte) {
	if sock.route.transcoder != nil {
		s.pendInbound(sock, t, data) // run with the rest of the read round
		return
	}
	s.deliver(sock, Message{Type: t, Data: data})
}

// deliver hands a message to the listeners and, on echo routes, back to
// the socket.
func (s *Server) deliver(sock *Socket, m Message) {
	for _, l := range *s.listeners.Load() {
		l.OnMessage(sock, m)
	}
	if sock.route.echo {
		_ = s.outbound(sock, m.Type, m.Data, false)
	}
}

// outbound queues a message to the browser, through the transcoder if the
// route has one. owned means data may be kept without copying.
func (s *Server) outbound(sock *Socket, t MessageType, data []byte, owned bool) error {
	if tr := sock.route.transcoder; tr != nil {
		if s.pendOutbound(sock, t, data) {
			return nil // its read round runs it, with the round's others
		}
		sock.tmu.Lock()
		err := tr.outbound(sock, t, data)
		sock.tmu.Unlock()
		if err != nil {
			s.transcoderFailed(sock, "outbound", err)
		}
		return err
	}
	if owned {
		return sock.conn.WriteOwned(byte(t), data)
	}
	return sock.conn.Write(byte(t), data)
}

// socketClosed runs once per socket on its read path after it is gone.
func (s *Server) socketClosed(sock *Socket, code uint16, reason, cause string) {
	if !s.reg.remove(sock) {
		return // refused after the upgrade: never registered
	}
	if sock.route.transcoder != nil {
		// Messages of the last read round reach the listeners before the
		// close; what was still to be sent cannot be.
		s.runInbound(sock)
		sock.pmu.Lock()
		if out := sock.pendingOut; out != nil {
			sock.route.stats.conn.DroppedOut.Add(uint64(len(out.msgs)))
			putBatch(out)
			sock.pendingOut = nil
		}
		sock.inRound = false
		sock.pmu.Unlock()
	}
	rs := sock.route.stats
	rs.sockets.Add(-1)
	s.slots.Add(-1)
	s.ips.add(hostOf(sock.remote), -1)
	rs.countClose(cause)
	if tr := sock.route.transcoder; tr != nil {
		sock.tmu.Lock()
		tr.closed(sock, code, reason)
		sock.tmu.Unlock()
	}
	if sock.announced {
		for _, l := range *s.listeners.Load() {
			l.OnClose(sock, code, reason)
		}
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("socket closed", "socket", sock.id, "user", sock.sess.user, "context", sock.sess.context,
			"code", code, "reason", reason, "cause", cause)
	}
}

// transcoderFailed closes a socket whose transcoder call failed (1011).
func (s *Server) transcoderFailed(sock *Socket, call string, err error) {
	reason := "transcoder failure"
	var rc interface{ Reason() string }
	if e, ok := err.(interface{ Reason() string }); ok {
		rc = e
		reason = rc.Reason()
	}
	s.log.Warn("transcoder call failed; closing its socket", "socket", sock.id, "route", sock.route.cfg.Path,
		"transcoder", sock.route.transcoder.name(), "call", call, "error", err)
	sock.closeWith(wsproto.CloseInternalError, reason, "transcoder")
}
