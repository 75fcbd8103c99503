package session

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a real HTTP session backend on loopback.
type backend struct {
	*httptest.Server
	calls    atomic.Int64
	delay    time.Duration
	status   atomic.Int64 // forced status, 0 = normal
	body     atomic.Value // forced body string
	mu       sync.Mutex
	lastSeen *http.Request
	lastBody string
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.lastSeen, b.lastBody = r.Clone(context.Background()), string(body)
		b.mu.Unlock()
		if b.delay > 0 {
			time.Sleep(b.delay)
		}
		if st := b.status.Load(); st != 0 {
			w.WriteHeader(int(st))
			if s, ok := b.body.Load().(string); ok {
				io.WriteString(w, s)
			}
			return
		}
		id := r.URL.Query().Get("session")
		if r.Method == http.MethodPost {
			var req struct{ Session string }
			json.Unmarshal(body, &req)
			id = req.Session
		}
		secret, _ := r.Cookie("secret")
		switch {
		case id == "good" && secret != nil && secret.Value == "s3":
			io.WriteString(w, `{"user":"alice","context":1,"attributes":{"context_sets":"gold","n":7},"expires_in":3600}`)
		case id == "short":
			io.WriteString(w, `{"user":"bob","context":"2","expires_in":0.3}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func req(id string, cookies ...Cookie) *Request {
	return &Request{SessionID: id, Cookies: cookies, Header: http.Header{"User-Agent": {"test-agent"}}, Path: "/ws", RemoteAddr: "127.0.0.1:5"}
}

func TestHTTPVerifier(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			v, err := NewHTTP(HTTPConfig{URL: b.URL + "/check", Method: method, ForwardCookies: []string{"secret", "ox-*"}, ForwardHeaders: []string{"User-Agent"}, Headers: map[string]string{"Authorization": "Bearer backend-token"}})
			if err != nil {
				t.Fatal(err)
			}
			s, err := v.Verify(context.Background(), req("good", Cookie{"secret", "s3"}, Cookie{"ox-lang", "en"}, Cookie{"tracking", "no"}))
			if err != nil {
				t.Fatal(err)
			}
			if s.ID != "good" || s.User != "alice" || s.Context != "1" || s.Attributes["context_sets"] != "gold" || s.Attributes["n"] != "7" || s.Expires.IsZero() {
				t.Fatalf("session %+v", s)
			}
			b.mu.Lock()
			seen := b.lastSeen
			body := b.lastBody
			b.mu.Unlock()
			if got := seen.Header.Get("Cookie"); got != "secret=s3; ox-lang=en" {
				t.Fatalf("forwarded cookies %q", got)
			}
			if seen.Header.Get("User-Agent") != "test-agent" || seen.Header.Get("Authorization") != "Bearer backend-token" {
				t.Fatalf("headers %v", seen.Header)
			}
			if method == "POST" && !strings.Contains(body, `"path":"/ws"`) {
				t.Fatalf("POST body %s", body)
			}
			// Cached: no second backend call (cookies that are not forwarded do not matter).
			if _, err := v.Verify(context.Background(), req("good", Cookie{"secret", "s3"}, Cookie{"ox-lang", "en"}, Cookie{"tracking", "yes"})); err != nil {
				t.Fatal(err)
			}
			if b.calls.Load() != 1 || v.Stats.CacheHits.Load() != 1 {
				t.Fatalf("calls %d hits %d", b.calls.Load(), v.Stats.CacheHits.Load())
			}
			// Wrong cookie: a different cache key, and the backend says no.
			_, err = v.Verify(context.Background(), req("good", Cookie{"secret", "wrong"}))
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("wrong cookie: %v", err)
			}
			// Negative answers are cached too.
			v.Verify(context.Background(), req("good", Cookie{"secret", "wrong"}))
			if b.calls.Load() != 2 {
				t.Fatalf("negative answer not cached: %d calls", b.calls.Load())
			}
			// Revalidate goes to the backend.
			v.Verify(context.Background(), &Request{SessionID: "good", Cookies: []Cookie{{"secret", "s3"}, {"ox-lang", "en"}}, Revalidate: true})
			if b.calls.Load() != 3 {
				t.Fatalf("revalidate did not call the backend")
			}
			// Invalidate drops the cached answer.
			v.Invalidate("good")
			v.Verify(context.Background(), req("good", Cookie{"secret", "s3"}, Cookie{"ox-lang", "en"}))
			if b.calls.Load() != 4 {
				t.Fatalf("invalidate kept the cache")
			}
			if _, err := v.Verify(context.Background(), req("")); !errors.Is(err, ErrMissing) {
				t.Fatalf("missing: %v", err)
			}
		})
	}
}

func TestHTTPVerifierFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"500", 500, "oops", ErrUnavailable},
		{"502", 502, "", ErrUnavailable},
		{"redirect", 302, "", ErrUnavailable},
		{"garbage 200", 200, "<html>", ErrUnavailable},
		{"200 without user", 200, `{"context":"1"}`, ErrUnavailable},
		{"200 with object user", 200, `{"user":{},"context":"1"}`, ErrUnavailable},
		{"200 bad expires", 200, `{"user":"a","context":"1","expires_at":"tomorrow"}`, ErrUnavailable},
		{"200 expired", 200, `{"user":"a","context":"1","expires_at":"2001-01-01T00:00:00Z"}`, ErrUnauthenticated},
		{"403", 403, "", ErrUnauthenticated},
		{"404", 404, "", ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBackend(t)
			b.status.Store(int64(tt.status))
			b.body.Store(tt.body)
			v, _ := NewHTTP(HTTPConfig{URL: b.URL})
			_, err := v.Verify(context.Background(), req("x"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			v.Verify(context.Background(), req("x"))
			wantCalls := int64(2) // unavailable answers are not cached
			if tt.want == ErrUnauthenticated {
				wantCalls = 1
			}
			if b.calls.Load() != wantCalls {
				t.Fatalf("backend calls %d, want %d", b.calls.Load(), wantCalls)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		b.delay = 300 * time.Millisecond
		v, _ := NewHTTP(HTTPConfig{URL: b.URL, Timeout: 50 * time.Millisecond})
		if _, err := v.Verify(context.Background(), req("good")); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		url := b.URL
		b.Close()
		v, _ := NewHTTP(HTTPConfig{URL: url})
		if _, err := v.Verify(context.Background(), req("good")); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("expiry bounds the cache", func(t *testing.T) {
		t.Parallel()
		b := newBackend(t)
		v, _ := NewHTTP(HTTPConfig{URL: b.URL})
		s, err := v.Verify(context.Background(), req("short"))
		if err != nil || time.Until(s.Expires) > time.Second {
			t.Fatalf("%+v %v", s, err)
		}
		time.Sleep(400 * time.Millisecond)
		v.Verify(context.Background(), req("short"))
		if b.calls.Load() != 2 {
			t.Fatalf("cache outlived the session's expiry")
		}
	})
}

// TestHTTPVerifierCoalescing: a reconnect storm of one session costs one
// backend call.
func TestHTTPVerifierCoalescing(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	b.delay = 200 * time.Millisecond
	v, _ := NewHTTP(HTTPConfig{URL: b.URL})
	const n = 2000
	var wg sync.WaitGroup
	var failures atomic.Int64
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := v.Verify(context.Background(), req("good", Cookie{"secret", "s3"})); err != nil {
				failures.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d verifications failed", failures.Load())
	}
	if got := b.calls.Load(); got != 1 {
		t.Fatalf("%d concurrent checks of one session made %d backend calls, want 1", n, got)
	}
}

func TestHTTPConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []HTTPConfig{{URL: ""}, {URL: "ftp://x"}, {URL: "/relative"}, {URL: "http://x", Method: "PUT"}} {
		if _, err := NewHTTP(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func FuzzHTTPAnswer(f *testing.F) {
	f.Add([]byte(`{"user":"alice","context":1,"attributes":{"a":"b"},"expires_in":30}`))
	f.Add([]byte(`{"user":"a","context":"1","expires_at":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`[]`))
	v, _ := NewHTTP(HTTPConfig{URL: "http://127.0.0.1:1"})
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := v.parseAnswer(data, now)
		if err == nil && (s == nil || s.User == "" || s.Context == "") {
			t.Fatalf("accepted an answer without identity: %+v", s)
		}
		if err != nil && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}
