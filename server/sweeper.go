package server

import (
	"context"
	"errors"
	"time"

	"github.com/edgews/edgews/server/session"
)

// sweepInterval is how often the sweeper runs: often enough for the
// shortest configured timer, at most once per second, at least every 10ms.
func sweepInterval(cfg *Config) time.Duration {
	d := time.Second
	for _, t := range []time.Duration{cfg.Limits.PingInterval, cfg.Limits.PongTimeout, cfg.Limits.CloseTimeout, cfg.Limits.ReadTimeout} {
		if t > 0 && t/4 < d {
			d = t / 4
		}
	}
	return max(d, 10*time.Millisecond)
}

// sweeper enforces every socket's timers and every session's expiry and
// re-verification, from one goroutine.
func (s *Server) sweeper() {
	sem := make(chan struct{}, 16) // concurrent re-verifications
	var lastIPSweep time.Time
	for {
		cfg := s.cfg.Load()
		t := time.NewTimer(sweepInterval(cfg))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.sweepNow:
			t.Stop()
		}
		now := time.Now()
		s.reg.each(func(sock *Socket) { sock.conn.Tick(now) })
		if now.Sub(lastIPSweep) > 10*time.Second {
			s.ips.sweep(now)
			lastIPSweep = now
		}
		interval := s.reverifyInterval(cfg)
		nowN := now.UnixNano()
		s.reg.eachSession(func(e *sessionEntry) {
			mu := s.reg.mu(e.id)
			mu.RLock()
			expires, last, req := e.expires, e.lastVerified, e.req
			mu.RUnlock()
			if expires != 0 && nowN >= expires {
				s.closeSession(e, CloseSessionEnded, "session expired", "session_expired")
				return
			}
			if interval > 0 && req != nil && nowN-last >= int64(interval) && e.reverifying.CompareAndSwap(false, true) {
				select {
				case sem <- struct{}{}:
					go func() {
						defer func() { <-sem; e.reverifying.Store(false) }()
						s.reverify(e, req)
					}()
				default:
					e.reverifying.Store(false) // busy: next sweep
				}
			}
		})
	}
}

// reverify checks an open session again and closes its sockets when the
// verifier says it is gone. An unavailable verifier keeps the sockets.
func (s *Server) reverify(e *sessionEntry, req *session.Request) {
	cfg := s.cfg.Load()
	ctx, cancel := context.WithTimeout(s.ctx, cfg.Session.VerifyTimeout)
	defer cancel()
	r := *req
	r.Revalidate = true
	v, err := s.verifier().Verify(ctx, &r)
	switch {
	case err == nil && v.User == e.user && v.Context == e.context:
		mu := s.reg.mu(e.id)
		mu.Lock()
		e.lastVerified = time.Now().UnixNano()
		e.attrs = v.Attributes
		e.sets = splitComma(v.Attributes[cfg.Cascade.ContextSetAttribute])
		e.expires = 0
		if !v.Expires.IsZero() {
			e.expires = v.Expires.UnixNano()
		}
		mu.Unlock()
	case err == nil: // same id, different identity: treat as revoked
		s.closeSession(e, CloseSessionEnded, "session no longer valid", "session_revoked")
	case errors.Is(err, session.ErrUnauthenticated):
		s.log.Info("re-verification ended a session", "session", e.id, "user", e.user, "context", e.context, "error", err)
		s.closeSession(e, CloseSessionEnded, "session no longer valid", "session_revoked")
	default:
		s.log.Warn("re-verification failed; keeping the session's sockets", "session", e.id, "error", err)
		mu := s.reg.mu(e.id)
		mu.Lock()
		e.lastVerified = time.Now().UnixNano() // retry after another interval
		mu.Unlock()
	}
}

// closeSession closes every socket of a session entry.
func (s *Server) closeSession(e *sessionEntry, code uint16, reason, cause string) int {
	mu := s.reg.mu(e.id)
	mu.RLock()
	socks := append([]*Socket(nil), e.sockets...)
	mu.RUnlock()
	for _, sock := range socks {
		sock.closeWith(code, reason, cause)
	}
	return len(socks)
}
