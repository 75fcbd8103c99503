package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTKey is one verification key.
type JWTKey struct {
	// ID is the key id ("kid"). A token that names a kid is checked only
	// against keys with that id; a token without kid against every key of
	// its algorithm.
	ID string
	// Algorithm is HS256, RS256, ES256 or EdDSA.
	Algorithm string
	// Secret is the shared secret of an HS256 key.
	Secret string
	// PublicKey is a PEM public key (RS256, ES256, EdDSA); PublicKeyFile
	// names a file holding one.
	PublicKey, PublicKeyFile string
}

// JWTConfig configures the jwt verifier.
type JWTConfig struct {
	// Cookie, if set, names a cookie holding the token when the session
	// parameter is absent.
	Cookie string
	// Keys are the verification keys; JWKSFile adds the keys of a JWKS file.
	Keys     []JWTKey
	JWKSFile string
	// UserClaim and ContextClaim name the claims mapped to user and context
	// (defaults "sub" and "context"). SessionClaim names the claim used as
	// session id (default "sid"; then "jti"; then a hash of the token).
	UserClaim, ContextClaim, SessionClaim string
	// Issuer and Audience, when set, must match the token.
	Issuer, Audience string
	// Leeway tolerates clock skew on exp/nbf/iat (default 30s).
	Leeway time.Duration
	// RevokeFor is how long an invalidated session (logout through the
	// admin API) stays refused; it should cover the longest token lifetime
	// (default 24h). At most RevokeMax sessions are remembered (default
	// 100000; the oldest go first).
	RevokeFor time.Duration
	RevokeMax int
}

// JWT verifies JSON Web Tokens.
type JWT struct {
	cfg     JWTConfig
	keys    []jwtKey
	methods []string
	parser  *jwt.Parser

	mu      sync.Mutex
	revoked map[string]time.Time // session id -> refused until
}

type jwtKey struct {
	id  string
	alg string
	key any
}

var (
	_ Verifier    = (*JWT)(nil)
	_ Invalidator = (*JWT)(nil)
)

var supportedAlgs = []string{"HS256", "RS256", "ES256", "EdDSA"}

// NewJWT loads the keys and returns the verifier. Errors name the key.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if cfg.UserClaim == "" {
		cfg.UserClaim = "sub"
	}
	if cfg.ContextClaim == "" {
		cfg.ContextClaim = "context"
	}
	if cfg.SessionClaim == "" {
		cfg.SessionClaim = "sid"
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.RevokeFor <= 0 {
		cfg.RevokeFor = 24 * time.Hour
	}
	if cfg.RevokeMax <= 0 {
		cfg.RevokeMax = 100_000
	}
	v := &JWT{cfg: cfg, revoked: map[string]time.Time{}}
	for i, k := range cfg.Keys {
		key, err := loadKey(k)
		if err != nil {
			return nil, fmt.Errorf("session: jwt keys[%d]: %w", i, err)
		}
		v.keys = append(v.keys, jwtKey{id: k.ID, alg: k.Algorithm, key: key})
	}
	if cfg.JWKSFile != "" {
		data, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("session: jwt jwks_file: %w", err)
		}
		ks, err := ParseJWKS(data)
		if err != nil {
			return nil, fmt.Errorf("session: jwt jwks_file %s: %w", cfg.JWKSFile, err)
		}
		v.keys = append(v.keys, ks...)
	}
	if len(v.keys) == 0 {
		return nil, errors.New("session: jwt: no keys (set keys or jwks_file)")
	}
	for _, k := range v.keys {
		if !slices.Contains(v.methods, k.alg) {
			v.methods = append(v.methods, k.alg)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithJSONNumber(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

func loadKey(k JWTKey) (any, error) {
	if !slices.Contains(supportedAlgs, k.Algorithm) {
		return nil, fmt.Errorf("algorithm %q is not one of %v", k.Algorithm, supportedAlgs)
	}
	if k.Algorithm == "HS256" {
		if len(k.Secret) < 32 {
			return nil, errors.New("secret must be at least 32 bytes for HS256")
		}
		return []byte(k.Secret), nil
	}
	pem := []byte(k.PublicKey)
	if k.PublicKeyFile != "" {
		b, err := os.ReadFile(k.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("public_key_file: %w", err)
		}
		pem = b
	}
	if len(pem) == 0 {
		return nil, errors.New("public_key or public_key_file is required")
	}
	var key any
	var err error
	switch k.Algorithm {
	case "RS256":
		key, err = jwt.ParseRSAPublicKeyFromPEM(pem)
	case "ES256":
		key, err = jwt.ParseECPublicKeyFromPEM(pem)
	case "EdDSA":
		key, err = jwt.ParseEdPublicKeyFromPEM(pem)
	}
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return key, nil
}

// Verify implements Verifier.
func (v *JWT) Verify(_ context.Context, req *Request) (*Session, error) {
	raw := req.SessionID
	if raw == "" && v.cfg.Cookie != "" {
		raw, _ = req.Cookie(v.cfg.Cookie)
	}
	if raw == "" {
		return nil, ErrMissing
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, v.keyFunc)
	if err != nil {
		return nil, Reject("invalid token: %v", err)
	}
	user, ok := claimString(claims[v.cfg.UserClaim])
	if !ok || user == "" {
		return nil, Reject("token has no %q claim", v.cfg.UserClaim)
	}
	ctxID, ok := claimString(claims[v.cfg.ContextClaim])
	if !ok || ctxID == "" {
		return nil, Reject("token has no %q claim", v.cfg.ContextClaim)
	}
	s := &Session{User: user, Context: ctxID, Attributes: map[string]string{}}
	for k, c := range claims {
		if str, ok := claimString(c); ok {
			s.Attributes[k] = str
		}
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		s.Expires = exp.Time
	}
	switch {
	case s.Attributes[v.cfg.SessionClaim] != "":
		s.ID = s.Attributes[v.cfg.SessionClaim]
	case s.Attributes["jti"] != "":
		s.ID = s.Attributes["jti"]
	default:
		sum := sha256.Sum256([]byte(raw))
		s.ID = "jwt-" + hex.EncodeToString(sum[:16])
	}
	if v.isRevoked(s.ID, time.Now()) {
		return nil, Reject("session %q was invalidated", s.ID)
	}
	return s, nil
}

// Invalidate implements Invalidator: tokens are stateless, so a logout
// (DELETE /api/v1/sessions/{id}) is remembered and the session refused
// until RevokeFor has passed or the token has expired anyway.
func (v *JWT) Invalidate(id string) {
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.revoked) >= v.cfg.RevokeMax {
		var oldest string
		var oldestT time.Time
		for k, t := range v.revoked {
			if !now.Before(t) {
				delete(v.revoked, k)
				continue
			}
			if oldest == "" || t.Before(oldestT) {
				oldest, oldestT = k, t
			}
		}
		if len(v.revoked) >= v.cfg.RevokeMax && oldest != "" {
			delete(v.revoked, oldest)
		}
	}
	v.revoked[id] = now.Add(v.cfg.RevokeFor)
}

func (v *JWT) isRevoked(id string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	until, ok := v.revoked[id]
	if ok && !now.Before(until) {
		delete(v.revoked, id)
		return false
	}
	return ok
}

func (v *JWT) keyFunc(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range v.keys {
		if k.alg != alg || (kid != "" && k.id != kid) {
			continue
		}
		set.Keys = append(set.Keys, k.key)
	}
	if len(set.Keys) == 0 {
		if kid != "" {
			return nil, fmt.Errorf("no %s key with id %q", alg, kid)
		}
		return nil, fmt.Errorf("no %s key", alg)
	}
	return set, nil
}

// claimString accepts string, number and bool claims.
func claimString(c any) (string, bool) {
	switch x := c.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
