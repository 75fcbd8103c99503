package session

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type testKeys struct {
	hs       []byte
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	rsaPEM   string
	ecPEM    string
	edPEM    string
	jwksPath string
}

func pemOf(t *testing.T, pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func newTestKeys(t *testing.T) *testKeys {
	t.Helper()
	k := &testKeys{hs: []byte("0123456789abcdef0123456789abcdef")}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	k.rsaPEM, k.ecPEM, k.edPEM = pemOf(t, &k.rsa.PublicKey), pemOf(t, &k.ec.PublicKey), pemOf(t, k.ed.Public())
	enc := base64.RawURLEncoding.EncodeToString
	ecPub, _ := k.ec.PublicKey.Bytes() // 0x04 || X || Y
	jwks := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "alg": "RS256", "n": enc(k.rsa.N.Bytes()), "e": enc([]byte{1, 0, 1})},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": enc(ecPub[1:33]), "y": enc(ecPub[33:])},
		{"kty": "OKP", "kid": "d1", "crv": "Ed25519", "x": enc(k.ed.Public().(ed25519.PublicKey))},
		{"kty": "oct", "kid": "h1", "k": enc(k.hs)},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": "x", "e": "y"},
	}}
	data, _ := json.Marshal(jwks)
	k.jwksPath = filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(k.jwksPath, data, 0o600)
	return k
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "context": "7", "exp": time.Now().Add(time.Hour).Unix(), "sid": "sess-1"}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
		} else {
			c[extra[i].(string)] = extra[i+1]
		}
	}
	return c
}

func TestJWTVerifier(t *testing.T) {
	t.Parallel()
	k := newTestKeys(t)
	fromConfig, err := NewJWT(JWTConfig{Keys: []JWTKey{
		{ID: "h1", Algorithm: "HS256", Secret: string(k.hs)},
		{ID: "r1", Algorithm: "RS256", PublicKey: k.rsaPEM},
		{Algorithm: "ES256", PublicKey: k.ecPEM},
		{Algorithm: "EdDSA", PublicKey: k.edPEM},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fromJWKS, err := NewJWT(JWTConfig{JWKSFile: k.jwksPath, Cookie: "token"})
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]string{
		"HS256": sign(t, jwt.SigningMethodHS256, k.hs, "h1", claims()),
		"RS256": sign(t, jwt.SigningMethodRS256, k.rsa, "r1", claims()),
		"ES256": sign(t, jwt.SigningMethodES256, k.ec, "", claims()),
		"EdDSA": sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims()),
	}
	for _, v := range []*JWT{fromConfig, fromJWKS} {
		for alg, tok := range good {
			s, err := v.Verify(context.Background(), &Request{SessionID: tok})
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			if s.User != "alice" || s.Context != "7" || s.ID != "sess-1" || s.Expires.IsZero() {
				t.Fatalf("%s: session %+v", alg, s)
			}
		}
	}
	// Cookie instead of the session parameter.
	if _, err := fromJWKS.Verify(context.Background(), &Request{Cookies: []Cookie{{"token", good["RS256"]}}}); err != nil {
		t.Fatalf("cookie: %v", err)
	}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := map[string]string{
		"expired":     sign(t, jwt.SigningMethodHS256, k.hs, "h1", claims("exp", time.Now().Add(-time.Hour).Unix())),
		"no exp":      sign(t, jwt.SigningMethodHS256, k.hs, "h1", claims("exp", nil)),
		"no sub":      sign(t, jwt.SigningMethodHS256, k.hs, "h1", claims("sub", nil)),
		"no context":  sign(t, jwt.SigningMethodHS256, k.hs, "h1", claims("context", nil)),
		"wrong key":   sign(t, jwt.SigningMethodRS256, otherRSA, "r1", claims()),
		"unknown kid": sign(t, jwt.SigningMethodHS256, k.hs, "nope", claims()),
		"wrong alg":   sign(t, jwt.SigningMethodHS384, k.hs, "h1", claims()),
		"alg none":    sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims()),
		"tampered":    good["RS256"][:len(good["RS256"])-4] + "AAAA",
		"garbage":     "not.a.token",
	}
	for name, tok := range bad {
		if _, err := fromConfig.Verify(context.Background(), &Request{SessionID: tok}); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrUnauthenticated", name, err)
		}
	}
	if _, err := fromConfig.Verify(context.Background(), &Request{}); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing: %v", err)
	}
	// Without sid the session id is derived from jti, then from the token.
	noSid := sign(t, jwt.SigningMethodHS256, k.hs, "h1", claims("sid", nil))
	s, _ := fromConfig.Verify(context.Background(), &Request{SessionID: noSid})
	if !strings.HasPrefix(s.ID, "jwt-") {
		t.Fatalf("derived id %q", s.ID)
	}
}

func TestJWTConfigErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]JWTConfig{
		"no keys":      {},
		"short secret": {Keys: []JWTKey{{Algorithm: "HS256", Secret: "short"}}},
		"bad alg":      {Keys: []JWTKey{{Algorithm: "none", Secret: strings.Repeat("x", 40)}}},
		"bad pem":      {Keys: []JWTKey{{Algorithm: "RS256", PublicKey: "garbage"}}},
		"missing file": {JWKSFile: "/nonexistent/jwks.json"},
	} {
		if _, err := NewJWT(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err == nil && len(keys) == 0 {
			// Only possible when every key is an encryption key.
			return
		}
	})
}

func FuzzJWTVerify(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.x")
	f.Add("a.b.c")
	v, err := NewJWT(JWTConfig{Keys: []JWTKey{{Algorithm: "HS256", Secret: "0123456789abcdef0123456789abcdef"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		s, err := v.Verify(context.Background(), &Request{SessionID: tok})
		if err == nil {
			t.Fatalf("forged token accepted: %q -> %+v", tok, s)
		}
	})
}

func TestJWTRevocation(t *testing.T) {
	t.Parallel()
	secret := "0123456789abcdef0123456789abcdef"
	v, err := NewJWT(JWTConfig{Keys: []JWTKey{{Algorithm: "HS256", Secret: secret}}, RevokeFor: 50 * time.Millisecond, RevokeMax: 2})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(sid string) string {
		return sign(t, jwt.SigningMethodHS256, []byte(secret), "", claims("sid", sid))
	}
	if _, err := v.Verify(context.Background(), &Request{SessionID: tok("a")}); err != nil {
		t.Fatal(err)
	}
	v.Invalidate("a")
	if _, err := v.Verify(context.Background(), &Request{SessionID: tok("a")}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked session accepted: %v", err)
	}
	// Bounded: the oldest revocation goes when the table is full.
	v.Invalidate("b")
	v.Invalidate("c")
	if _, err := v.Verify(context.Background(), &Request{SessionID: tok("a")}); err != nil {
		t.Fatalf("the oldest revocation should have been dropped: %v", err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := v.Verify(context.Background(), &Request{SessionID: tok("c")}); err != nil {
		t.Fatalf("revocation outlived RevokeFor: %v", err)
	}
}
