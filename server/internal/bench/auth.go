package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Sessions for the targets. edgews in dev mode hands them out on
// POST /dev/login; the http-verifier node asks sessionBackend, a tiny
// backend in the bench process; the cluster nodes take HS256 JWTs signed
// here. The reference server takes any session.

var errLogin = errors.New("bench: login failed")

// httpClient is shared by all admin and login calls: keep-alive, enough
// idle connections for the parallel senders.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
}

// devLogin logs user in context "1" in and returns the session id.
func devLogin(ctx context.Context, c *http.Client, listen, user string) (string, error) {
	body := `{"user":"` + user + `","context":"1"}`
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+listen+"/dev/login", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errLogin, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: HTTP %d %s", errLogin, resp.StatusCode, bytes.TrimSpace(data))
	}
	var out struct{ Session string }
	if err := json.Unmarshal(data, &out); err != nil || out.Session == "" {
		return "", fmt.Errorf("%w: answer %q", errLogin, data)
	}
	return out.Session, nil
}

// sessions returns a session id for each user of a target: dev logins
// against edgews (in parallel), the user's name for the reference.
func (r *runner) sessions(ctx context.Context, p *process, target string, users []string) ([]string, error) {
	ids := make([]string, len(users))
	if target != targetEdgews {
		for i, u := range users {
			ids[i] = "ref-" + u
		}
		return ids, nil
	}
	r.log.Info("logging in", "target", target, "users", len(users))
	errs := parallel(ctx, len(users), 32, func(i int) error {
		id, err := devLogin(ctx, r.http, p.listen, users[i])
		ids[i] = id
		return err
	})
	if errs.n > 0 {
		return nil, fmt.Errorf("bench: %d of %d logins failed, first: %w", errs.n, len(users), errs.first)
	}
	return ids, nil
}

// sessionBackend is the http verifier's backend: sessions "s-<user>" are
// valid for <user> in context "1", everything else is 401. It counts the
// calls, so a report can show that the verifier's cache was warm.
type sessionBackend struct {
	srv   *http.Server
	url   string
	calls atomic.Int64
}

func startSessionBackend() (*sessionBackend, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: session backend: %w", err)
	}
	b := &sessionBackend{url: "http://" + ln.Addr().String() + "/session"}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *sessionBackend) serve(w http.ResponseWriter, r *http.Request) {
	b.calls.Add(1)
	var in struct{ Session string }
	json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in)
	user, ok := strings.CutPrefix(in.Session, "s-")
	w.Header().Set("Content-Type", "application/json")
	if !ok || user == "" {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":"unknown session"}`))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"user": user, "context": "1", "expires_in": 3600})
}

func (b *sessionBackend) close() { b.srv.Close() }

// signJWT makes a one-hour HS256 token for user in context "1".
func signJWT(secret, user, sid string) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user, "context": "1", "sid": sid, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
}
