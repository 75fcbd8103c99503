package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Errors a Verifier wraps to say how a request failed.
var (
	// ErrUnauthenticated: the request has no valid session (HTTP 401).
	ErrUnauthenticated = errors.New("session: not authenticated")
	// ErrUnavailable: the verifier cannot decide now (HTTP 503).
	ErrUnavailable = errors.New("session: verifier unavailable")
	// ErrMissing: no session id in the request (wraps ErrUnauthenticated).
	ErrMissing = fmt.Errorf("%w: no session in the request", ErrUnauthenticated)
)

// Reject returns an error wrapping ErrUnauthenticated with a reason for logs.
func Reject(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnauthenticated, fmt.Sprintf(format, args...))
}

// Unavailable returns an error wrapping ErrUnavailable with a reason for logs.
func Unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
}

// Cookie is one cookie of the upgrade request.
type Cookie struct {
	Name, Value string
}

// Request is what a verifier sees of an upgrade request. It holds copies,
// so a verifier may keep it.
type Request struct {
	// SessionID is the value of the session URL parameter ("" if absent).
	SessionID string
	// Cookies are the request's cookies in order.
	Cookies []Cookie
	// Header holds the request headers (canonical keys), without Cookie.
	Header http.Header
	// Path and RawQuery are the request target.
	Path, RawQuery string
	// RemoteAddr is the peer's address (host:port).
	RemoteAddr string
	// Revalidate asks caching verifiers to consult their source instead of
	// the cache (used by periodic re-verification); the answer is cached.
	Revalidate bool
}

// Cookie returns the value of the first cookie with that name.
func (r *Request) Cookie(name string) (string, bool) {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// Session is a verified session.
type Session struct {
	// ID identifies the session (the key for invalidation). Verifiers set it
	// to the session id of the request unless the credential names another
	// (a JWT's sid claim, say).
	ID string
	// User and Context identify whom the session belongs to.
	User, Context string
	// Attributes are extra facts about the session (for example the context
	// sets the context belongs to). Treat as read-only.
	Attributes map[string]string
	// Expires is when the session ends; zero means no known end.
	Expires time.Time
}

// Verifier checks upgrade requests.
type Verifier interface {
	// Verify returns the session the request belongs to, or an error
	// wrapping ErrUnauthenticated or ErrUnavailable.
	Verify(ctx context.Context, req *Request) (*Session, error)
}

// Invalidator is implemented by verifiers that remember sessions; the server
// calls it when the backend invalidates a session through the admin API, so
// that a reconnect is checked afresh.
type Invalidator interface {
	Invalidate(sessionID string)
}

// Func adapts a function to Verifier.
type Func func(ctx context.Context, req *Request) (*Session, error)

// Verify calls f.
func (f Func) Verify(ctx context.Context, req *Request) (*Session, error) { return f(ctx, req) }

var _ Verifier = Func(nil)
