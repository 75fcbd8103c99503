package pathfilter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAndMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter string
		canon  string
		match  []string
		miss   []string
	}{
		{"*", "*", []string{"/", "/ws", "/socket.io/", "/a/b/c"}, nil},
		{"/*", "*", []string{"/", "/x"}, nil},
		{"/ws", "/ws", []string{"/ws"}, []string{"/ws/", "/wss", "/", "/ws/x"}},
		{"/ws/", "/ws/", []string{"/ws/"}, []string{"/ws", "/ws/x"}},
		{"/socket.io/*", "/socket.io/*", []string{"/socket.io", "/socket.io/", "/socket.io/x/y"}, []string{"/socket.iox", "/socket", "/", "/x/socket.io/"}},
		{"/a/b/*", "/a/b/*", []string{"/a/b", "/a/b/c"}, []string{"/a", "/a/bc", "/a/"}},
	}
	for _, tt := range tests {
		f, err := Parse(tt.filter)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.filter, err)
		}
		if got := f.String(); got != tt.canon {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.filter, got, tt.canon)
		}
		for _, p := range tt.match {
			if !f.Match(p) || !f.MatchBytes([]byte(p)) {
				t.Errorf("%q should match %q", tt.filter, p)
			}
		}
		for _, p := range tt.miss {
			if f.Match(p) || f.MatchBytes([]byte(p)) {
				t.Errorf("%q should not match %q", tt.filter, p)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"ws", "must start with"},
		{"/a*", "only allowed as the whole last segment"},
		{"/*/a", "only allowed as the whole last segment"},
		{"/a/*/*", "only allowed as the whole last segment"},
		{"/a b", "space or control"},
		{"/a\x00", "space or control"},
		{"/a?x=1", "not queries"},
		{"/a#f", "not queries"},
		{"/a//b", "empty segment"},
		{"/a//*", "empty segment"},
		{"/a/../b", "dot segment"},
		{"/./*", "dot segment"},
		{"/" + strings.Repeat("a", MaxLen), "longer than the limit"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q): no error", tt.in)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid mentioning %q", tt.in, err, tt.want)
		}
	}
}

func TestSpecificity(t *testing.T) {
	t.Parallel()
	exact, long, short, all := MustParse("/a/b"), MustParse("/a/b/*"), MustParse("/a/*"), All
	if !(exact.Specificity() > long.Specificity() && long.Specificity() > short.Specificity() && short.Specificity() > all.Specificity()) {
		t.Fatal("specificity order wrong")
	}
	var zero Filter
	if !zero.Match("/anything") || !zero.IsAll() {
		t.Fatal("zero Filter must match everything")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"*", "/ws", "/socket.io/*", "/a//b", "/a/../b", "/x*", "/é/*", ""} {
		f.Add(s, "/socket.io/")
	}
	f.Fuzz(func(t *testing.T, filter, path string) {
		flt, err := Parse(filter)
		if err != nil {
			return
		}
		// Canonical text re-parses to an equivalent filter.
		again, err := Parse(flt.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", flt.String(), filter, err)
		}
		if again.Match(path) != flt.Match(path) || flt.Match(path) != flt.MatchBytes([]byte(path)) {
			t.Fatalf("inconsistent match of %q against %q", path, filter)
		}
		if flt.IsPrefix() && !flt.Match(flt.Prefix()) {
			t.Fatalf("prefix filter %q does not match its own prefix", filter)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	f := MustParse("/socket.io/*")
	p := []byte("/socket.io/")
	b.ReportAllocs()
	for b.Loop() {
		if !f.MatchBytes(p) {
			b.Fatal("no match")
		}
	}
}
