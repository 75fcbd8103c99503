package wsproto

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

type event struct {
	op         byte
	payload    string
	compressed bool
}

type recorder struct{ events []event }

func (r *recorder) Message(op byte, p []byte, c bool) error {
	r.events = append(r.events, event{op, string(p), c})
	return nil
}

func (r *recorder) Control(op byte, p []byte) error {
	r.events = append(r.events, event{op: op, payload: string(p)})
	return nil
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func cf(fin bool, op byte, payload string) []byte {
	return AppendClientFrame(nil, fin, op, 0, testKey, []byte(payload))
}

func join(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// feedAll feeds data whole, then byte by byte, then in 7-byte chops, and
// checks that all three give the same events and error code.
func feedAll(t *testing.T, cfg ParserConfig, data []byte) ([]event, *CloseError) {
	t.Helper()
	var results [][]event
	var codes []*CloseError
	for _, chop := range []int{len(data) + 1, 1, 7} {
		p := Parser{Config: cfg}
		r := &recorder{}
		buf := append([]byte(nil), data...)
		var err error
		for len(buf) > 0 && err == nil {
			n := min(chop, len(buf))
			err = p.Feed(buf[:n], r)
			buf = buf[n:]
		}
		var ce *CloseError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("non-close error: %v", err)
		}
		results = append(results, r.events)
		codes = append(codes, ce)
	}
	for i := 1; i < len(results); i++ {
		if fmt.Sprint(results[i]) != fmt.Sprint(results[0]) || fmt.Sprint(codes[i]) != fmt.Sprint(codes[0]) {
			t.Fatalf("chopped feeding differs:\nwhole: %v %v\nchop%d: %v %v", results[0], codes[0], i, results[i], codes[i])
		}
	}
	return results[0], codes[0]
}

func TestParserMessages(t *testing.T) {
	t.Parallel()
	big := string(bytes.Repeat([]byte("x"), 70000))
	mid := string(bytes.Repeat([]byte("y"), 300))
	tests := []struct {
		name string
		data []byte
		want []event
	}{
		{"text", cf(true, OpText, "hello"), []event{{OpText, "hello", false}}},
		{"empty text", cf(true, OpText, ""), []event{{OpText, "", false}}},
		{"binary 16-bit len", cf(true, OpBinary, mid), []event{{OpBinary, mid, false}}},
		{"binary 64-bit len", cf(true, OpBinary, big), []event{{OpBinary, big, false}}},
		{"fragmented", join(cf(false, OpText, "he"), cf(false, OpContinuation, ""), cf(true, OpContinuation, "llo")), []event{{OpText, "hello", false}}},
		{"ping inside fragments", join(cf(false, OpText, "a"), cf(true, OpPing, "p"), cf(true, OpContinuation, "b")), []event{{OpPing, "p", false}, {OpText, "ab", false}}},
		{"utf8 split across frames", join(cf(false, OpText, "\xce"), cf(true, OpContinuation, "\xba\xe1\xbd\xb9")), []event{{OpText, "\xce\xba\xe1\xbd\xb9", false}}},
		{"close", cf(true, OpClose, "\x03\xe8bye"), []event{{OpClose, "\x03\xe8bye", false}}},
		{"two messages", join(cf(true, OpText, "a"), cf(true, OpBinary, "\xff")), []event{{OpText, "a", false}, {OpBinary, "\xff", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := feedAll(t, ParserConfig{MaxMessage: 1 << 20}, tt.data)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestParserViolations(t *testing.T) {
	t.Parallel()
	unmasked := AppendFrame(nil, true, OpText, false, []byte("hi"))
	tests := []struct {
		name string
		cfg  ParserConfig
		data []byte
		code uint16
		n    int // events before the error
	}{
		{"unmasked", ParserConfig{}, unmasked, CloseProtocolError, 0},
		{"rsv2", ParserConfig{}, AppendClientFrame(nil, true, OpText, 0x20, testKey, []byte("a")), CloseProtocolError, 0},
		{"rsv1 without extension", ParserConfig{}, AppendClientFrame(nil, true, OpText, 0x40, testKey, []byte("a")), CloseProtocolError, 0},
		{"rsv1 on continuation", ParserConfig{Compression: true}, join(AppendClientFrame(nil, false, OpText, 0x40, testKey, []byte("a")), AppendClientFrame(nil, true, OpContinuation, 0x40, testKey, []byte("b"))), CloseProtocolError, 0},
		{"rsv1 on ping", ParserConfig{Compression: true}, AppendClientFrame(nil, true, OpPing, 0x40, testKey, nil), CloseProtocolError, 0},
		{"reserved opcode 3", ParserConfig{}, cf(true, 3, ""), CloseProtocolError, 0},
		{"reserved opcode 11", ParserConfig{}, cf(true, 11, ""), CloseProtocolError, 0},
		{"fragmented ping", ParserConfig{}, cf(false, OpPing, ""), CloseProtocolError, 0},
		{"long ping", ParserConfig{}, cf(true, OpPing, string(make([]byte, 126))), CloseProtocolError, 0},
		{"lone continuation", ParserConfig{}, cf(true, OpContinuation, "x"), CloseProtocolError, 0},
		{"text during fragments", ParserConfig{}, join(cf(false, OpText, "a"), cf(true, OpText, "b")), CloseProtocolError, 0},
		{"invalid utf8", ParserConfig{}, join(cf(true, OpText, "ok"), cf(true, OpText, "\xff")), CloseInvalidPayload, 1},
		{"utf8 incomplete at end", ParserConfig{}, cf(true, OpText, "a\xce"), CloseInvalidPayload, 0},
		{"utf8 surrogate", ParserConfig{}, cf(true, OpText, "\xed\xa0\x80"), CloseInvalidPayload, 0},
		{"too big", ParserConfig{MaxMessage: 10}, cf(true, OpBinary, "01234567890"), CloseTooBig, 0},
		{"too big across fragments", ParserConfig{MaxMessage: 10}, join(cf(false, OpBinary, "012345"), cf(true, OpContinuation, "67890")), CloseTooBig, 0},
		{"too many fragments", ParserConfig{MaxFragments: 2}, join(cf(false, OpBinary, "0"), cf(false, OpContinuation, "1"), cf(true, OpContinuation, "2")), CloseTooBig, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := feedAll(t, tt.cfg, tt.data)
			if err == nil || err.Code != tt.code {
				t.Fatalf("got error %v, want code %d", err, tt.code)
			}
			if len(got) != tt.n {
				t.Fatalf("got %d events before the error, want %d", len(got), tt.n)
			}
		})
	}
}

// TestParserFailFast checks that invalid UTF-8 is caught in the fragment,
// and within a frame in the read, where it arrives.
func TestParserFailFast(t *testing.T) {
	t.Parallel()
	// 0xF4 0x90 can start no valid sequence (above U+10FFFF).
	frame := cf(true, OpText, "\xce\xba\xf4\x90\x80\x80hello")
	p := Parser{}
	r := &recorder{}
	hdr := 6 // 2 + mask key
	if err := p.Feed(frame[:hdr+3], r); err != nil {
		t.Fatalf("valid prefix rejected: %v", err)
	}
	err := p.Feed(frame[hdr+3:hdr+4], r) // the 0x90
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != CloseInvalidPayload {
		t.Fatalf("got %v, want 1007 at the first bad byte", err)
	}
}

func TestClosePayload(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []byte
		code uint16
		err  uint16
	}{
		{nil, CloseNoStatus, 0},
		{[]byte{3}, 0, CloseProtocolError},
		{ClosePayload(1000, "ok"), 1000, 0},
		{ClosePayload(4999, ""), 4999, 0},
		{ClosePayload(1005, ""), CloseNoStatus, 0},         // 1005 yields an empty payload
		{[]byte{0x03, 0xed}, 0, CloseProtocolError},        // 1005 on the wire
		{[]byte{0x03, 0xee}, 0, CloseProtocolError},        // 1006
		{[]byte{0x03, 0xe7}, 0, CloseProtocolError},        // 999
		{[]byte{0x07, 0xd0}, 0, CloseProtocolError},        // 2000
		{[]byte{0x03, 0xe8, 0xff}, 0, CloseInvalidPayload}, // bad reason
	} {
		code, _, err := ParseClosePayload(tt.in)
		var ce *CloseError
		errors.As(err, &ce)
		switch {
		case tt.err != 0 && (ce == nil || ce.Code != tt.err):
			t.Errorf("%x: got %v, want error %d", tt.in, err, tt.err)
		case tt.err == 0 && (err != nil || code != tt.code):
			t.Errorf("%x: got %d %v, want %d", tt.in, code, err, tt.code)
		}
	}
	if r := TruncateReason(string(bytes.Repeat([]byte("é"), 100))); len(r) > MaxCloseReason || !bytes.Equal([]byte(r), bytes.Repeat([]byte("é"), len(r)/2)) {
		t.Fatalf("TruncateReason split a character: %q", r)
	}
}

func FuzzParser(f *testing.F) {
	f.Add(join(cf(false, OpText, "he"), cf(true, OpPing, ""), cf(true, OpContinuation, "llo")), uint8(3))
	f.Add(cf(true, OpBinary, string(make([]byte, 300))), uint8(1))
	f.Add(AppendClientFrame(nil, true, OpText, 0x40, testKey, []byte{0xf2, 0x48, 0xcd}), uint8(5))
	f.Add([]byte{0x81, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chop uint8) {
		cfg := ParserConfig{MaxMessage: 1 << 16, MaxFragments: 64, Compression: chop&1 == 1}
		whole := Parser{Config: cfg}
		rw := &recorder{}
		errW := whole.Feed(append([]byte(nil), data...), rw)
		step := int(chop%16) + 1
		budget := &Budget{} // no limit: it only counts, so both parsers behave alike
		pcfg := cfg
		pcfg.Budget = budget
		parts := Parser{Config: pcfg}
		rp := &recorder{}
		var errP error
		buf := append([]byte(nil), data...)
		for len(buf) > 0 && errP == nil {
			n := min(step, len(buf))
			errP = parts.Feed(buf[:n], rp)
			buf = buf[n:]
		}
		if fmt.Sprint(errW) != fmt.Sprint(errP) {
			// Fail-fast UTF-8 may stop earlier when chopped, but the code must agree.
			var a, b *CloseError
			if !errors.As(errW, &a) || !errors.As(errP, &b) || a.Code != b.Code {
				t.Fatalf("whole: %v, chopped: %v", errW, errP)
			}
		}
		if errW == nil && fmt.Sprint(rw.events) != fmt.Sprint(rp.events) {
			t.Fatalf("events differ: %v vs %v", rw.events, rp.events)
		}
		for _, e := range rw.events {
			if e.op == OpText && !e.compressed && !utf8Valid([]byte(e.payload)) {
				t.Fatalf("invalid UTF-8 text delivered: %q", e.payload)
			}
		}
		// The budget holds exactly the chopped parser's message buffer, and
		// nothing once it is Reset.
		if budget.Used() != parts.charged || (parts.msg == nil) != (parts.charged == 0) || parts.charged > int64(cap(parts.msg)) {
			t.Fatalf("budget %d, charged %d, buffer cap %d", budget.Used(), parts.charged, cap(parts.msg))
		}
		parts.Reset()
		if budget.Used() != 0 {
			t.Fatalf("budget %d after Reset", budget.Used())
		}
	})
}
