package hmacauth

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Header names.
const (
	HeaderNode      = "X-Edgews-Node"
	HeaderTo        = "X-Edgews-To"
	HeaderTime      = "X-Edgews-Time"
	HeaderNonce     = "X-Edgews-Nonce"
	HeaderBody      = "X-Edgews-Body-Sha256"
	HeaderSignature = "X-Edgews-Signature"
)

// Errors returned by Verify and CheckBody.
var (
	ErrMissing   = errors.New("gossip/hmacauth: missing or malformed authentication header")
	ErrSignature = errors.New("gossip/hmacauth: signature does not match")
	ErrStale     = errors.New("gossip/hmacauth: timestamp outside the accepted window")
	ErrReplay    = errors.New("gossip/hmacauth: nonce already used")
	ErrBody      = errors.New("gossip/hmacauth: body does not match its signed digest")
	ErrAudience  = errors.New("gossip/hmacauth: request is addressed to another node")
)

const (
	keyInfo   = "edgews gossip payload hmac v1"
	domain    = "edgews-gossip-v1"
	nonceLen  = 16 // bytes, hex encoded in the header
	maxNode   = 256
	sigB64Len = 43 // raw URL base64 of 32 bytes

	// maxNoncesPerGeneration bounds the replay cache; see Verifier.
	maxNoncesPerGeneration = 1 << 17
)

// DeriveKey derives the HMAC key from a cluster secret.
func DeriveKey(secret []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, keyInfo, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("gossip/hmacauth: derive key: %w", err)
	}
	return key, nil
}

// Signer signs outgoing requests on behalf of one node.
type Signer struct {
	key  []byte
	node string
}

// NewSigner returns a Signer for node using key (from DeriveKey).
func NewSigner(key []byte, node string) *Signer {
	return &Signer{key: key, node: node}
}

// Sign sets the authentication headers for a request to node to with the
// given method, URL path and body. Naming the destination in the signature
// keeps a request captured on its way to one node from being replayed to
// another (each node has its own nonce cache).
func (s *Signer) Sign(h http.Header, method, path, to string, body []byte, now time.Time) error {
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("gossip/hmacauth: nonce: %w", err)
	}
	digest := sha256.Sum256(body)
	f := fields{
		node:  s.node,
		to:    to,
		ts:    strconv.FormatInt(now.UnixMilli(), 10),
		nonce: hex.EncodeToString(nonce[:]),
		body:  hex.EncodeToString(digest[:]),
	}
	mac := f.mac(s.key, method, path)
	h.Set(HeaderNode, f.node)
	h.Set(HeaderTo, f.to)
	h.Set(HeaderTime, f.ts)
	h.Set(HeaderNonce, f.nonce)
	h.Set(HeaderBody, f.body)
	h.Set(HeaderSignature, base64.RawURLEncoding.EncodeToString(mac))
	return nil
}

// fields are the signed header values, as sent.
type fields struct {
	node, to, ts, nonce, body string
}

func (f *fields) mac(key []byte, method, path string) []byte {
	m := hmac.New(sha256.New, key)
	for _, s := range [...]string{domain, method, path, f.node, f.to, f.ts, f.nonce, f.body} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	return m.Sum(nil)
}

// Claims is what a verified request header says.
type Claims struct {
	Node   string
	digest [sha256.Size]byte
}

// CheckBody reports whether body is the one the signature covers.
func (c *Claims) CheckBody(body []byte) error {
	return c.CheckDigest(sha256.Sum256(body))
}

// NewBodyHash returns a hash to stream the body through; pass its sum to
// CheckDigest.
func NewBodyHash() hash.Hash { return sha256.New() }

// CheckDigest compares a body digest with the signed one.
func (c *Claims) CheckDigest(sum [sha256.Size]byte) error {
	if !hmac.Equal(sum[:], c.digest[:]) {
		return ErrBody
	}
	return nil
}

// Verifier checks incoming requests. It remembers the nonces it has accepted
// for at least twice the allowed clock skew (two generations of a map, rotated
// every 2×skew), so a captured request cannot be replayed while its timestamp
// is still acceptable. Each generation holds at most 131,072 nonces; a busier
// window rotates early, which can shorten the memory for the oldest nonces.
// That trade keeps memory bounded and is harmless here: replaying a batch is
// absorbed by sequence numbers, and the other requests are idempotent.
type Verifier struct {
	key  []byte
	skew time.Duration

	mu      sync.Mutex
	cur     map[string]struct{}
	prev    map[string]struct{}
	rotated time.Time
}

// NewVerifier returns a Verifier accepting timestamps within ±skew of the
// local clock.
func NewVerifier(key []byte, skew time.Duration) *Verifier {
	return &Verifier{key: key, skew: skew, cur: make(map[string]struct{}), prev: make(map[string]struct{})}
}

// Verify checks the authentication headers of a request that must be
// addressed to node self. On success the nonce is spent and the returned
// claims must still check the body.
func (v *Verifier) Verify(h http.Header, method, path, self string, now time.Time) (Claims, error) {
	f, sig, digest, ts, err := parse(h.Get(HeaderNode), h.Get(HeaderTime), h.Get(HeaderNonce), h.Get(HeaderBody), h.Get(HeaderSignature))
	if err != nil {
		return Claims{}, err
	}
	if to := h.Get(HeaderTo); to != self {
		return Claims{}, fmt.Errorf("%w: %q", ErrAudience, truncate(to, maxNode))
	}
	f.to = self
	if !hmac.Equal(sig, f.mac(v.key, method, path)) {
		return Claims{}, ErrSignature
	}
	if d := now.Sub(time.UnixMilli(ts)); d > v.skew || d < -v.skew {
		return Claims{}, fmt.Errorf("%w: off by %s", ErrStale, d.Round(time.Millisecond))
	}
	if !v.spend(f.nonce, now) {
		return Claims{}, ErrReplay
	}
	return Claims{Node: f.node, digest: digest}, nil
}

func (v *Verifier) spend(nonce string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.rotated.IsZero() {
		v.rotated = now
	}
	if now.Sub(v.rotated) >= 2*v.skew || len(v.cur) >= maxNoncesPerGeneration {
		v.prev, v.cur = v.cur, make(map[string]struct{}, len(v.cur))
		v.rotated = now
	}
	if _, ok := v.cur[nonce]; ok {
		return false
	}
	if _, ok := v.prev[nonce]; ok {
		return false
	}
	v.cur[nonce] = struct{}{}
	return true
}

// parse validates the shape of every header before any cryptography runs.
func parse(node, ts, nonce, body, sig string) (f fields, mac []byte, digest [sha256.Size]byte, millis int64, err error) {
	if node == "" || len(node) > maxNode {
		return f, nil, digest, 0, fmt.Errorf("%w: %s", ErrMissing, HeaderNode)
	}
	millis, perr := strconv.ParseInt(ts, 10, 64)
	if perr != nil || millis <= 0 || len(ts) > 19 {
		return f, nil, digest, 0, fmt.Errorf("%w: %s", ErrMissing, HeaderTime)
	}
	if len(nonce) != 2*nonceLen || !isLowerHex(nonce) {
		return f, nil, digest, 0, fmt.Errorf("%w: %s", ErrMissing, HeaderNonce)
	}
	if len(body) != 2*sha256.Size || !isLowerHex(body) {
		return f, nil, digest, 0, fmt.Errorf("%w: %s", ErrMissing, HeaderBody)
	}
	if _, herr := hex.Decode(digest[:], []byte(body)); herr != nil {
		return f, nil, digest, 0, fmt.Errorf("%w: %s", ErrMissing, HeaderBody)
	}
	if len(sig) != sigB64Len {
		return f, nil, digest, 0, fmt.Errorf("%w: %s", ErrMissing, HeaderSignature)
	}
	mac, derr := base64.RawURLEncoding.DecodeString(sig)
	if derr != nil || len(mac) != sha256.Size {
		return f, nil, digest, 0, fmt.Errorf("%w: %s", ErrMissing, HeaderSignature)
	}
	return fields{node: node, ts: ts, nonce: nonce, body: body}, mac, digest, millis, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
