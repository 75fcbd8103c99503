package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// HTTPConfig configures the http verifier.
type HTTPConfig struct {
	// URL of the backend's session check endpoint.
	URL string
	// Method is GET or POST (default POST). GET sends the session id as the
	// "session" query parameter; POST sends a JSON body
	// {"session","path","remote_addr"}. Both forward the cookies in a Cookie
	// header.
	Method string
	// Timeout bounds one backend call (default 2s).
	Timeout time.Duration
	// ForwardCookies lists the cookie names sent to the backend; a name may
	// end in "*" to match a prefix. Empty forwards every cookie. The
	// forwarded cookies are part of the cache key.
	ForwardCookies []string
	// ForwardHeaders lists request headers copied to the backend call (for
	// example User-Agent or X-Forwarded-For).
	ForwardHeaders []string
	// Headers are fixed headers for every backend call (e.g. Authorization).
	Headers map[string]string
	// PositiveTTL is how long a valid session is cached (default 30s).
	PositiveTTL time.Duration
	// NegativeTTL is how long a rejection is cached (default 5s).
	NegativeTTL time.Duration
	// CacheSize bounds the number of cached answers (default 100000).
	CacheSize int
	// UserField and ContextField name the response fields (default "user",
	// "context"); AttributesField names an optional object of string
	// attributes (default "attributes"). The response may also carry
	// "expires_at" (RFC 3339) or "expires_in" (seconds).
	UserField, ContextField, AttributesField string
	// MaxResponseBytes bounds the backend's answer (default 64 KiB).
	MaxResponseBytes int64
	// Client is the HTTP client (default: a client with Timeout).
	Client *http.Client
}

// HTTPStats counts what the verifier did.
type HTTPStats struct {
	Calls, CacheHits, Coalesced, Rejected, Unavailable atomic.Uint64
}

// HTTP verifies sessions against the operator's backend.
type HTTP struct {
	cfg   HTTPConfig
	cache *cache
	Stats HTTPStats
}

var (
	_ Verifier    = (*HTTP)(nil)
	_ Invalidator = (*HTTP)(nil)
)

// NewHTTP validates cfg and returns the verifier.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("session: http verifier: url %q must be an absolute http(s) URL", cfg.URL)
	}
	cfg.Method = strings.ToUpper(cfg.Method)
	switch cfg.Method {
	case "":
		cfg.Method = http.MethodPost
	case http.MethodGet, http.MethodPost:
	default:
		return nil, fmt.Errorf("session: http verifier: method %q must be GET or POST", cfg.Method)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.PositiveTTL == 0 {
		cfg.PositiveTTL = 30 * time.Second
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.UserField == "" {
		cfg.UserField = "user"
	}
	if cfg.ContextField == "" {
		cfg.ContextField = "context"
	}
	if cfg.AttributesField == "" {
		cfg.AttributesField = "attributes"
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout: cfg.Timeout,
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &HTTP{cfg: cfg, cache: newCache(cfg.CacheSize)}, nil
}

// Verify implements Verifier.
func (h *HTTP) Verify(ctx context.Context, req *Request) (*Session, error) {
	if req.SessionID == "" {
		return nil, ErrMissing
	}
	cookies := h.forwardCookies(req.Cookies)
	key := req.SessionID + "\x00" + cookies
	if !req.Revalidate {
		if s, err, ok := h.cache.get(key); ok {
			h.Stats.CacheHits.Add(1)
			return s, err
		}
	}
	s, err, shared := h.cache.do(key, func() (*Session, error) {
		h.Stats.Calls.Add(1)
		s, err := h.call(context.WithoutCancel(ctx), req, cookies) // shared by waiters: one caller leaving must not fail the rest
		switch {
		case err == nil:
			ttl := h.cfg.PositiveTTL
			if !s.Expires.IsZero() {
				ttl = min(ttl, time.Until(s.Expires))
			}
			h.cache.put(key, req.SessionID, s, nil, ttl)
		case errors.Is(err, ErrUnauthenticated):
			h.Stats.Rejected.Add(1)
			h.cache.put(key, req.SessionID, nil, err, h.cfg.NegativeTTL)
		default:
			h.Stats.Unavailable.Add(1)
		}
		return s, err
	})
	if shared {
		h.Stats.Coalesced.Add(1)
	}
	return s, err
}

// Invalidate implements Invalidator.
func (h *HTTP) Invalidate(id string) { h.cache.invalidate(id) }

func (h *HTTP) forwardCookies(cs []Cookie) string {
	var b strings.Builder
	for _, c := range cs {
		if !h.cookieAllowed(c.Name) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name)
		b.WriteByte('=')
		b.WriteString(c.Value)
	}
	return b.String()
}

func (h *HTTP) cookieAllowed(name string) bool {
	if len(h.cfg.ForwardCookies) == 0 {
		return true
	}
	for _, p := range h.cfg.ForwardCookies {
		if ok, _ := path.Match(p, name); ok || p == name {
			return true
		}
	}
	return false
}

func (h *HTTP) call(ctx context.Context, req *Request, cookies string) (*Session, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	var body io.Reader
	target := h.cfg.URL
	if h.cfg.Method == http.MethodGet {
		u, _ := url.Parse(h.cfg.URL)
		q := u.Query()
		q.Set("session", req.SessionID)
		u.RawQuery = q.Encode()
		target = u.String()
	} else {
		b, _ := json.Marshal(struct {
			Session    string `json:"session"`
			Path       string `json:"path"`
			RemoteAddr string `json:"remote_addr"`
		}{req.SessionID, req.Path, req.RemoteAddr})
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, h.cfg.Method, target, body)
	if err != nil {
		return nil, Unavailable("building backend request: %v", err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json")
	if cookies != "" {
		hr.Header.Set("Cookie", cookies)
	}
	for _, name := range h.cfg.ForwardHeaders {
		if v := req.Header.Values(name); len(v) > 0 {
			hr.Header[http.CanonicalHeaderKey(name)] = v
		}
	}
	for k, v := range h.cfg.Headers {
		hr.Header.Set(k, v)
	}
	resp, err := h.cfg.Client.Do(hr)
	if err != nil {
		return nil, Unavailable("backend call failed: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, Unavailable("reading backend answer: %v", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return nil, Reject("backend answered %d for the session", resp.StatusCode)
	default:
		return nil, Unavailable("backend answered %d", resp.StatusCode)
	}
	if int64(len(data)) > h.cfg.MaxResponseBytes {
		return nil, Unavailable("backend answer longer than %d bytes", h.cfg.MaxResponseBytes)
	}
	s, err := h.parseAnswer(data, time.Now())
	if err != nil {
		return nil, err
	}
	s.ID = req.SessionID
	return s, nil
}

// parseAnswer decodes the backend's 200 answer. A malformed answer is the
// backend's fault: ErrUnavailable, never a session.
func (h *HTTP) parseAnswer(data []byte, now time.Time) (*Session, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, Unavailable("backend answer is not a JSON object: %v", err)
	}
	user, err := scalarString(m[h.cfg.UserField])
	if err != nil || user == "" {
		return nil, Unavailable("backend answer has no usable %q field", h.cfg.UserField)
	}
	ctxID, err := scalarString(m[h.cfg.ContextField])
	if err != nil || ctxID == "" {
		return nil, Unavailable("backend answer has no usable %q field", h.cfg.ContextField)
	}
	s := &Session{User: user, Context: ctxID}
	if raw, ok := m[h.cfg.AttributesField]; ok && string(raw) != "null" {
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &attrs); err != nil {
			return nil, Unavailable("backend answer field %q is not an object", h.cfg.AttributesField)
		}
		s.Attributes = make(map[string]string, len(attrs))
		for k, v := range attrs {
			str, err := scalarString(v)
			if err != nil {
				return nil, Unavailable("backend answer attribute %q is not a string, number or bool", k)
			}
			s.Attributes[k] = str
		}
	}
	if raw, ok := m["expires_at"]; ok && string(raw) != "null" {
		var ts string
		if err := json.Unmarshal(raw, &ts); err != nil {
			return nil, Unavailable("backend answer expires_at is not a string")
		}
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return nil, Unavailable("backend answer expires_at: %v", err)
		}
		s.Expires = t
	} else if raw, ok := m["expires_in"]; ok && string(raw) != "null" {
		var secs float64
		if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 || secs > 1e9 {
			return nil, Unavailable("backend answer expires_in is not a non-negative number of seconds")
		}
		s.Expires = now.Add(time.Duration(secs * float64(time.Second)))
	}
	if !s.Expires.IsZero() && !now.Before(s.Expires) {
		return nil, Reject("session expired at %s", s.Expires.Format(time.RFC3339))
	}
	return s, nil
}

// scalarString accepts a JSON string, number or bool.
func scalarString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("missing")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", errors.New("not a scalar")
}
