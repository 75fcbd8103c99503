package wsproto

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
	"testing"
)

// stdInflate decompresses one RFC 7692 message with the standard library,
// as an independent check of Deflater, keeping dict for context takeover.
func stdInflate(t *testing.T, msg, dict []byte) []byte {
	t.Helper()
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(msg), bytes.NewReader(inflateTail)), dict)
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("std inflate: %v", err)
	}
	return out
}

func TestDeflateRoundTrip(t *testing.T) {
	t.Parallel()
	text := make([]byte, 2000)
	for i, x := 0, uint32(1); i < len(text); i++ {
		x = x*1664525 + 1013904223
		text[i] = 'a' + byte(x>>24)%26
	}
	msgs := [][]byte{
		text,
		[]byte(""),
		text, // compresses to almost nothing with context takeover
		bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7}, 10000),
	}
	for _, p := range []DeflateParams{
		{ServerMaxWindowBits: 15, Level: 1},
		{ServerMaxWindowBits: 15, Level: 6, ServerNoContextTakeover: true, ClientNoContextTakeover: true},
		{ServerMaxWindowBits: 9, Level: 1},
		{ServerMaxWindowBits: 8, Level: 1, ServerNoContextTakeover: true},
	} {
		d := NewDeflater(p)
		in := NewInflater(DeflateParams{ClientNoContextTakeover: p.ServerNoContextTakeover})
		var history []byte
		var sizes []int
		for _, m := range msgs {
			c := d.Compress(nil, m)
			sizes = append(sizes, len(c))
			dict := history
			if p.ServerNoContextTakeover {
				dict = nil
			}
			if got := stdInflate(t, c, dict); !bytes.Equal(got, m) {
				t.Fatalf("%+v: std inflate mismatch", p)
			}
			got, err := in.Inflate(nil, c, 1<<20)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("%+v: Inflate mismatch: %v", p, err)
			}
			history = append(history, m...)
			if len(history) > maxWindow {
				history = history[len(history)-maxWindow:]
			}
		}
		if !p.ServerNoContextTakeover && p.ServerMaxWindowBits == 15 && sizes[2] >= sizes[0]/2 {
			t.Errorf("%+v: context takeover did not help: sizes %v", p, sizes)
		}
	}
}

func TestInflateLimits(t *testing.T) {
	t.Parallel()
	bomb := NewDeflater(DeflateParams{ServerNoContextTakeover: true, Level: 9}).Compress(nil, make([]byte, 10<<20))
	if len(bomb) > 20<<10 {
		t.Fatalf("bomb not small: %d", len(bomb))
	}
	out, err := NewInflater(DeflateParams{}).Inflate(nil, bomb, 1<<20)
	if !errors.Is(err, ErrTooBig) {
		t.Fatalf("got %v, want ErrTooBig", err)
	}
	if cap(out) > 3<<20 {
		t.Fatalf("inflate allocated %d bytes for a 1 MiB limit", cap(out))
	}
	_, err = NewInflater(DeflateParams{}).Inflate(nil, []byte{0xff, 0xff, 0xff}, 0)
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != CloseInvalidPayload {
		t.Fatalf("corrupt data: got %v", err)
	}
}

func TestNegotiateDeflate(t *testing.T) {
	t.Parallel()
	pol := DeflatePolicy{ServerContextTakeover: true, ClientContextTakeover: true, Level: 1}
	tests := []struct {
		header string
		pol    DeflatePolicy
		ok     bool
		resp   string
	}{
		{"permessage-deflate", pol, true, "permessage-deflate"},
		{"permessage-deflate; client_max_window_bits", pol, true, "permessage-deflate"},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", pol, true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"permessage-deflate; server_max_window_bits=9", pol, true, "permessage-deflate; server_max_window_bits=9"},
		{`permessage-deflate; server_max_window_bits="10"`, pol, true, "permessage-deflate; server_max_window_bits=10"},
		{"permessage-deflate; server_max_window_bits=7", pol, false, ""},
		{"permessage-deflate; server_max_window_bits", pol, false, ""},
		{"permessage-deflate; server_max_window_bits=9, permessage-deflate", pol, true, "permessage-deflate; server_max_window_bits=9"},
		{"permessage-deflate; server_max_window_bits=99, permessage-deflate", pol, true, "permessage-deflate"},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", pol, false, ""},
		{"permessage-deflate; foo", pol, false, ""},
		{"x-webkit-deflate-frame", pol, false, ""},
		{"permessage-deflate", DeflatePolicy{}, true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	}
	for _, tt := range tests {
		offers, ok := ParseExtensions([]string{tt.header})
		if !ok {
			t.Fatalf("%q: parse failed", tt.header)
		}
		_, resp, ok := NegotiateDeflate(offers, tt.pol)
		if ok != tt.ok || resp != tt.resp {
			t.Errorf("%q: got %v %q, want %v %q", tt.header, ok, resp, tt.ok, tt.resp)
		}
	}
	for _, bad := range []string{"permessage-deflate; =1", "a b", `x; p="unterminated`, "x;;"} {
		if _, ok := ParseExtensions([]string{bad}); ok {
			t.Errorf("%q: parsed, want malformed", bad)
		}
	}
}

func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{"permessage-deflate; client_max_window_bits", `a; b="c\"d", e`, "permessage-deflate; server_max_window_bits=10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		offers, ok := ParseExtensions([]string{s})
		if !ok {
			return
		}
		p, resp, ok := NegotiateDeflate(offers, DeflatePolicy{ServerContextTakeover: true, ClientContextTakeover: true})
		if ok && (!strings.HasPrefix(resp, "permessage-deflate") || p.ServerMaxWindowBits < 8 || p.ServerMaxWindowBits > 15) {
			t.Fatalf("bad negotiation %q -> %+v %q", s, p, resp)
		}
	})
}

func FuzzInflate(f *testing.F) {
	f.Add(NewDeflater(DeflateParams{ServerNoContextTakeover: true}).Compress(nil, []byte("hello hello hello")))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := NewInflater(DeflateParams{}).Inflate(nil, b, 1<<16)
		if err == nil && len(out) > 1<<16 {
			t.Fatalf("limit exceeded without error")
		}
	})
}

func TestMask(t *testing.T) {
	t.Parallel()
	for n := 0; n < 100; n++ {
		for pos := 0; pos < 4; pos++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			want := append([]byte(nil), b...)
			for i := range want {
				want[i] ^= testKey[(pos+i)&3]
			}
			if next := Mask(testKey, pos, b); next != (pos+n)&3 || !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d wrong", n, pos)
			}
		}
	}
}

func BenchmarkParseSmallText(b *testing.B) {
	frame := cf(true, OpText, strings.Repeat("a", 64))
	buf := make([]byte, len(frame))
	r := discard{}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		copy(buf, frame)
		var p Parser
		if err := p.Feed(buf, r); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Message(byte, []byte, bool) error { return nil }
func (discard) Control(byte, []byte) error       { return nil }
