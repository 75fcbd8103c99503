package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// DevCookie is the cookie the dev login sets.
const DevCookie = "edgews_session"

// Dev issues and checks sessions in memory. It is for development and
// tests only: sessions are not shared between nodes and vanish on restart.
type Dev struct {
	mu       sync.Mutex
	sessions map[string]*Session
	now      func() time.Time
}

var (
	_ Verifier    = (*Dev)(nil)
	_ Invalidator = (*Dev)(nil)
)

// NewDev returns an empty dev verifier.
func NewDev() *Dev { return &Dev{sessions: make(map[string]*Session), now: time.Now} }

// Login issues a session for user in context; ttl 0 means no expiry.
func (d *Dev) Login(user, context string, ttl time.Duration) *Session {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := &Session{ID: hex.EncodeToString(b[:]), User: user, Context: context}
	if ttl > 0 {
		s.Expires = d.now().Add(ttl)
	}
	d.mu.Lock()
	d.sessions[s.ID] = s
	d.mu.Unlock()
	return s
}

// Invalidate ends a session (logout).
func (d *Dev) Invalidate(id string) {
	d.mu.Lock()
	delete(d.sessions, id)
	d.mu.Unlock()
}

// Verify implements Verifier: the session parameter, or the dev cookie when
// the parameter is absent.
func (d *Dev) Verify(_ context.Context, req *Request) (*Session, error) {
	id := req.SessionID
	if id == "" {
		id, _ = req.Cookie(DevCookie)
	}
	if id == "" {
		return nil, ErrMissing
	}
	d.mu.Lock()
	s, ok := d.sessions[id]
	if ok && !s.Expires.IsZero() && !d.now().Before(s.Expires) {
		delete(d.sessions, id)
		ok = false
	}
	d.mu.Unlock()
	if !ok {
		return nil, Reject("unknown or expired session")
	}
	cp := *s
	return &cp, nil
}
