package wsproto

import (
	"testing"
	"unicode/utf8"
)

func utf8Valid(b []byte) bool { return utf8.Valid(b) }

func streamValid(b []byte, step int) bool {
	var v UTF8
	for len(b) > 0 {
		n := min(step, len(b))
		if !v.Write(b[:n]) {
			return false
		}
		b = b[n:]
	}
	return v.Complete()
}

func TestUTF8(t *testing.T) {
	t.Parallel()
	cases := []string{
		"", "hello", "κόσμε", "\U0010FFFF", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd",
		"\xf4\x90\x80\x80", "\xed\xa0\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xf8\x88\x80\x80\x80",
		"\xce", "\xce\xba\xe1", "a\x80", "\xfe", "\xff", "\xf0\x8f\xbf\xbf", "\xf0\x90\x80\x80",
	}
	for _, c := range cases {
		want := utf8.ValidString(c)
		for _, step := range []int{1, 2, 3, 100} {
			if got := streamValid([]byte(c), step); got != want {
				t.Errorf("%q step %d: got %v want %v", c, step, got, want)
			}
		}
	}
}

func FuzzUTF8(f *testing.F) {
	f.Add([]byte("κόσμε"), uint8(1))
	f.Add([]byte("\xf4\x90\x80\x80"), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, step uint8) {
		if got, want := streamValid(b, int(step%8)+1), utf8.Valid(b); got != want {
			t.Fatalf("%q: stream %v, utf8.Valid %v", b, got, want)
		}
	})
}
