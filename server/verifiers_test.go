package server

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func signHS(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTThroughServer: tokens in the parameter or a cookie; expiry closes
// the socket with 4401; forged tokens get 401.
func TestJWTThroughServer(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) {
		c.Session.Verifier = "jwt"
		c.Session.JWT = JWTVerifierConfig{Cookie: "tok", Keys: []JWTKeyConfig{{Algorithm: "HS256", Secret: testSecret}}, Leeway: time.Millisecond}
	})
	good := signHS(t, jwt.MapClaims{"sub": "ann", "context": "3", "sid": "js1", "exp": time.Now().Add(time.Hour).Unix()})
	c := ts.mustDial("/ws", good)
	eventually(t, "registered", func() bool { return ts.reg.count("3", "ann", allPaths) == 1 })
	if got := ts.reg.sessionSockets("js1"); len(got) != 1 {
		t.Fatalf("session id from the sid claim: %d sockets", len(got))
	}
	// Cookie instead of the parameter.
	c2, resp, err := ts.dial("/ws", "", http.Header{"Cookie": {"tok=" + good}})
	if err != nil {
		t.Fatalf("cookie: %v %s", err, respText(resp))
	}
	c2.Close()
	for name, tok := range map[string]string{
		"forged":  signHS(t, jwt.MapClaims{"sub": "ann", "context": "3", "exp": time.Now().Add(time.Hour).Unix()})[:40] + "x.y",
		"expired": signHS(t, jwt.MapClaims{"sub": "ann", "context": "3", "exp": time.Now().Add(-time.Hour).Unix()}),
		"no exp":  signHS(t, jwt.MapClaims{"sub": "ann", "context": "3"}),
	} {
		if _, resp, err := ts.dial("/ws", tok, nil); err == nil || resp.StatusCode != 401 {
			t.Fatalf("%s token: %v %s", name, err, respText(resp))
		}
	}
	// A token that expires while the socket is open closes it.
	short := signHS(t, jwt.MapClaims{"sub": "ann", "context": "3", "exp": time.Now().Add(1500 * time.Millisecond).Unix()})
	sc := ts.mustDial("/ws", short)
	if code, reason := readClose(t, sc); code != 4401 || reason != "session expired" {
		t.Fatalf("close %d %q", code, reason)
	}
	_ = c
}

// TestContextSetFromAttribute: the verifier names the session's context
// sets; the cascade uses them.
func TestContextSetFromAttribute(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.RawQuery, "session=blocked") {
			io.WriteString(w, `{"user":"x","context":"50","attributes":{"groups":"beta, frozen"}}`)
			return
		}
		io.WriteString(w, `{"user":"y","context":"51","attributes":{"groups":"beta"}}`)
	}))
	defer backend.Close()
	ts := startServer(t, func(c *Config) {
		c.Session.Verifier = "http"
		c.Session.HTTP = HTTPVerifierConfig{URL: backend.URL, Method: "GET"}
		c.Cascade.ContextSetAttribute = "groups"
		c.Cascade.ContextSets = []ContextSetConfig{{Name: "frozen", Enabled: boolPtr(false)}, {Name: "beta", Enabled: boolPtr(true)}}
	})
	if _, resp, err := ts.dial("/ws", "blocked", nil); err == nil || resp.StatusCode != 403 {
		t.Fatalf("frozen set: %v %s", err, respText(resp))
	}
	c, resp, err := ts.dial("/ws", "fine", nil)
	if err != nil {
		t.Fatalf("beta set: %v %s", err, respText(resp))
	}
	c.Close()
	if d := ts.Cascade("50", "x", []string{"beta", "frozen"}); d.Enabled || d.Name != "frozen" {
		t.Fatalf("decision %+v: the first set in config order wins", d)
	}
}

// TestHandshakeTimeout: a client that never finishes its upgrade request is
// dropped after limits.handshake_timeout, and others are served meanwhile.
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *Config) { c.Limits.HandshakeTimeout = 300 * time.Millisecond })
	raw, err := net.Dial("tcp", ts.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	io.WriteString(raw, "GET /ws HTTP/1.1\r\nHost: x\r\n") // never finished
	ts.mustDial("/ws", ts.login("other", "1"))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(raw)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v", d)
	}
}
