package hmacauth

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func mustKey(t testing.TB, secret string) []byte {
	t.Helper()
	k, err := DeriveKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	key := mustKey(t, "cluster secret")
	now := time.UnixMilli(1_700_000_000_000)
	body := []byte("batch body")
	sign := func() http.Header {
		h := http.Header{}
		if err := NewSigner(key, "node-a").Sign(h, http.MethodPost, "/p", "node-b", body, now); err != nil {
			t.Fatal(err)
		}
		return h
	}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		v := NewVerifier(key, time.Minute)
		c, err := v.Verify(sign(), http.MethodPost, "/p", "node-b", now.Add(time.Second))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if c.Node != "node-a" {
			t.Fatalf("Node = %q", c.Node)
		}
		if err := c.CheckBody(body); err != nil {
			t.Fatalf("CheckBody: %v", err)
		}
		if err := c.CheckBody([]byte("other body")); !errors.Is(err, ErrBody) {
			t.Fatalf("CheckBody(tampered) = %v, want ErrBody", err)
		}
	})

	t.Run("replay", func(t *testing.T) {
		t.Parallel()
		v := NewVerifier(key, time.Minute)
		h := sign()
		if _, err := v.Verify(h, http.MethodPost, "/p", "node-b", now); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(h, http.MethodPost, "/p", "node-b", now.Add(time.Second)); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay: err = %v, want ErrReplay", err)
		}
		// After one rotation (2×skew later) the spent nonce is still
		// remembered; after two it is forgotten.
		nonce := h.Get(HeaderNonce)
		if !v.spend("other", now.Add(2*time.Minute+time.Millisecond)) {
			t.Fatal("fresh nonce rejected")
		}
		if v.spend(nonce, now.Add(2*time.Minute+2*time.Millisecond)) {
			t.Fatal("nonce forgotten after one rotation")
		}
		if !v.spend(nonce, now.Add(4*time.Minute+3*time.Millisecond)) {
			t.Fatal("nonce remembered after two rotations")
		}
	})

	rejects := []struct {
		name   string
		mutate func(h http.Header)
		key    []byte
		self   string
		method string
		path   string
		at     time.Time
		want   error
	}{
		{name: "no headers", mutate: func(h http.Header) { clear(h) }, want: ErrMissing},
		{name: "bad nonce", mutate: func(h http.Header) { h.Set(HeaderNonce, "zz") }, want: ErrMissing},
		{name: "upper hex digest", mutate: func(h http.Header) { h.Set(HeaderBody, "AA"+h.Get(HeaderBody)[2:]) }, want: ErrMissing},
		{name: "bad time", mutate: func(h http.Header) { h.Set(HeaderTime, "-5") }, want: ErrMissing},
		{name: "short signature", mutate: func(h http.Header) { h.Set(HeaderSignature, "abc") }, want: ErrMissing},
		{name: "other node name", mutate: func(h http.Header) { h.Set(HeaderNode, "node-c") }, want: ErrSignature},
		{name: "addressed to another node", self: "node-c", want: ErrAudience},
		{name: "destination rewritten", self: "node-c", mutate: func(h http.Header) { h.Set(HeaderTo, "node-c") }, want: ErrSignature},
		{name: "no destination", mutate: func(h http.Header) { h.Del(HeaderTo) }, want: ErrAudience},
		{name: "other path", path: "/q", want: ErrSignature},
		{name: "other method", method: http.MethodPut, want: ErrSignature},
		{name: "other key", key: mustKey(t, "wrong"), want: ErrSignature},
		{name: "too old", at: now.Add(2 * time.Minute), want: ErrStale},
		{name: "from the future", at: now.Add(-2 * time.Minute), want: ErrStale},
	}
	for _, tt := range rejects {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := sign()
			if tt.mutate != nil {
				tt.mutate(h)
			}
			k, self, method, path, at := key, "node-b", http.MethodPost, "/p", now
			if tt.key != nil {
				k = tt.key
			}
			if tt.self != "" {
				self = tt.self
			}
			if tt.method != "" {
				method = tt.method
			}
			if tt.path != "" {
				path = tt.path
			}
			if !tt.at.IsZero() {
				at = tt.at
			}
			if _, err := NewVerifier(k, time.Minute).Verify(h, method, path, self, at); !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNonceCacheBounded(t *testing.T) {
	t.Parallel()
	v := NewVerifier(mustKey(t, "s"), time.Minute)
	now := time.Now()
	for i := range maxNoncesPerGeneration + 10 {
		if !v.spend(strconv.Itoa(i), now) {
			t.Fatalf("fresh nonce %d rejected", i)
		}
	}
	if len(v.cur) > maxNoncesPerGeneration || len(v.prev) > maxNoncesPerGeneration {
		t.Fatalf("cache grew past its bound: %d + %d", len(v.cur), len(v.prev))
	}
	if v.spend(strconv.Itoa(maxNoncesPerGeneration+5), now) {
		t.Fatal("recent nonce accepted twice")
	}
}

func FuzzParse(f *testing.F) {
	h := http.Header{}
	_ = NewSigner([]byte("0123456789abcdef0123456789abcdef"), "n").Sign(h, "POST", "/", "m", nil, time.UnixMilli(1))
	f.Add(h.Get(HeaderNode), h.Get(HeaderTime), h.Get(HeaderNonce), h.Get(HeaderBody), h.Get(HeaderSignature))
	f.Add("", "", "", "", "")
	f.Add("n", "99999999999999999999", "00", "11", "x")
	f.Fuzz(func(t *testing.T, node, ts, nonce, body, sig string) {
		fl, mac, _, millis, err := parse(node, ts, nonce, body, sig)
		if err != nil {
			if !errors.Is(err, ErrMissing) {
				t.Fatalf("parse error %v is not ErrMissing", err)
			}
			return
		}
		if fl.node != node || len(mac) != 32 || millis <= 0 {
			t.Fatalf("parse accepted inconsistent input: %+v %d %d", fl, len(mac), millis)
		}
	})
}
