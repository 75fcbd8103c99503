package autobahn

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestUTF8MatchesStdlib checks the validator against utf8.Valid on every
// sequence of up to three octets and on many random longer ones.
func TestUTF8MatchesStdlib(t *testing.T) {
	t.Parallel()
	buf := make([]byte, 0, 3)
	var check func(depth int)
	check = func(depth int) {
		if got, want := validUTF8(buf), utf8.Valid(buf); got != want {
			t.Fatalf("validUTF8(%x) = %v, want %v", buf, got, want)
		}
		if depth == 3 {
			return
		}
		for b := 0; b < 256; b++ {
			if depth == 2 && (b < 0x7f || b > 0xc2) && b%31 != 0 {
				continue // keep the 3-octet sweep fast: the third octet matters only around 0x80-0xbf
			}
			buf = append(buf, byte(b))
			check(depth + 1)
			buf = buf[:len(buf)-1]
		}
	}
	check(0)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := make([]byte, rng.IntN(12))
		for i := range p {
			p[i] = byte(0x80 + rng.IntN(0x80))
			if rng.IntN(3) == 0 {
				p[i] = byte(0xc0 + rng.IntN(0x40))
			}
		}
		if got, want := validUTF8(p), utf8.Valid(p); got != want {
			t.Fatalf("validUTF8(%x) = %v, want %v", p, got, want)
		}
	}
}

// TestUTF8Incremental checks that chunking does not change the verdict and
// that the first invalid octet is found as soon as it arrives.
func TestUTF8Incremental(t *testing.T) {
	t.Parallel()
	msg := concat(kosme, []byte{0xf4, 0x90, 0x80, 0x80}, edited)
	for split := 0; split <= len(msg); split++ {
		var v utf8Validator
		r1 := v.validate(msg[:split])
		if split <= 11 && !(r1.valid) {
			t.Fatalf("split %d: first part reported invalid", split)
		}
		r2 := v.validate(msg[split:])
		if r1.valid && r2.valid {
			t.Fatalf("split %d: message reported valid", split)
		}
		if r1.valid && r2.index != 12 || !r1.valid && r1.index != 12 {
			t.Fatalf("split %d: failure at %d/%d, want 12", split, r1.index, r2.index)
		}
	}
	var v utf8Validator
	if r := v.validate(kosme[:1]); !r.valid || r.complete {
		t.Fatalf("partial code point: %+v", r)
	}
	if r := v.validate(kosme[1:]); !r.valid || !r.complete || r.index != len(kosme) {
		t.Fatalf("completed: %+v", r)
	}
	// After a failure an empty chunk reports valid-but-incomplete, and a
	// non-empty one invalid, as the official validator does.
	v.reset()
	v.validate([]byte{0xff})
	if r := v.validate(nil); !r.valid || r.complete {
		t.Fatalf("empty after failure: %+v", r)
	}
	if r := v.validate([]byte("a")); r.valid {
		t.Fatalf("data after failure: %+v", r)
	}
}

func TestPy2Decodable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    []byte
		want bool
	}{
		{[]byte("plain"), true},
		{[]byte{0xed, 0xa0, 0x80}, true}, // a surrogate: Python 2 decodes it
		{[]byte{0xf4, 0x90, 0x80, 0x80}, false},
		{[]byte{0xc0, 0x80}, false},
		{[]byte{0xce}, false},
	} {
		if got := py2Decodable(tc.p); got != tc.want {
			t.Errorf("py2Decodable(%x) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func FuzzUTF8(f *testing.F) {
	f.Add([]byte("Hello-µ@ßöäüàá-UTF-8!!"), 3)
	f.Add(concat(kosme, []byte{0xed, 0xa0, 0x80}, edited), 12)
	f.Add([]byte{0xf0, 0x90, 0x80}, 1)
	f.Fuzz(func(t *testing.T, p []byte, split int) {
		if split < 0 || split > len(p) {
			split = len(p) / 2
		}
		var v utf8Validator
		r1 := v.validate(p[:split])
		r2 := v.validate(p[split:])
		whole := r1.valid && r2.valid && r2.complete
		if whole != utf8.Valid(p) {
			t.Fatalf("%x split at %d: validator %v, utf8.Valid %v", p, split, whole, !whole)
		}
	})
}
