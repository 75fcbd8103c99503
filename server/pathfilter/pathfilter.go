package pathfilter

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest filter accepted, in bytes.
const MaxLen = 1024

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("pathfilter: invalid path filter")

// Filter is a parsed path filter. The zero value matches every path.
type Filter struct {
	// prefix is the path without the trailing "/*" for prefix filters, or the
	// exact path. Empty with any == true means "*".
	prefix string
	any    bool // "*": matches everything
	sub    bool // "/prefix/*": matches prefix and below
}

// All is the filter that matches every path.
var All = Filter{any: true}

// Parse parses a filter expression. The empty string is rejected; callers
// that treat "no filter" as "every path" should map it to All themselves.
func Parse(s string) (Filter, error) {
	if s == "" {
		return Filter{}, fmt.Errorf("%w: empty (use \"*\" for every path)", ErrInvalid)
	}
	if len(s) > MaxLen {
		return Filter{}, fmt.Errorf("%w: %d bytes is longer than the limit of %d", ErrInvalid, len(s), MaxLen)
	}
	if s == "*" || s == "/*" {
		return All, nil
	}
	if s[0] != '/' {
		return Filter{}, fmt.Errorf("%w: %q must start with \"/\" or be \"*\"", ErrInvalid, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return Filter{}, fmt.Errorf("%w: %q has a space or control character at byte %d", ErrInvalid, s, i)
		case c == '?' || c == '#':
			return Filter{}, fmt.Errorf("%w: %q contains %q; a filter matches paths, not queries or fragments", ErrInvalid, s, c)
		}
	}
	f := Filter{prefix: s}
	if strings.HasSuffix(s, "/*") {
		f.prefix, f.sub = s[:len(s)-2], true
	}
	if strings.Contains(f.prefix, "*") {
		return Filter{}, fmt.Errorf("%w: %q: \"*\" is only allowed as the whole last segment, as in \"/prefix/*\"", ErrInvalid, s)
	}
	if strings.Contains(s, "//") {
		return Filter{}, fmt.Errorf("%w: %q has an empty segment (\"//\")", ErrInvalid, s)
	}
	for _, seg := range strings.Split(f.prefix[1:], "/") {
		if seg == "." || seg == ".." {
			return Filter{}, fmt.Errorf("%w: %q has a dot segment %q", ErrInvalid, s, seg)
		}
	}
	return f, nil
}

// MustParse is Parse for constants known to be valid; it panics otherwise.
func MustParse(s string) Filter {
	f, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return f
}

// Match reports whether path matches the filter. It does not allocate.
func (f Filter) Match(path string) bool {
	switch {
	case f.any || (f.prefix == "" && !f.sub):
		return true
	case f.sub:
		if !strings.HasPrefix(path, f.prefix) {
			return false
		}
		rest := path[len(f.prefix):]
		return rest == "" || rest[0] == '/'
	default:
		return path == f.prefix
	}
}

// MatchBytes is Match for a byte slice path; it does not allocate.
func (f Filter) MatchBytes(path []byte) bool {
	switch {
	case f.any || (f.prefix == "" && !f.sub):
		return true
	case f.sub:
		if len(path) < len(f.prefix) || string(path[:len(f.prefix)]) != f.prefix {
			return false
		}
		return len(path) == len(f.prefix) || path[len(f.prefix)] == '/'
	default:
		return string(path) == f.prefix
	}
}

// IsAll reports whether the filter matches every path.
func (f Filter) IsAll() bool { return f.any || (f.prefix == "" && !f.sub) }

// IsPrefix reports whether the filter is a "/prefix/*" filter.
func (f Filter) IsPrefix() bool { return f.sub && !f.any }

// Prefix returns the exact path, or the prefix without "/*" of a prefix filter.
func (f Filter) Prefix() string { return f.prefix }

// String returns the canonical text of the filter.
func (f Filter) String() string {
	switch {
	case f.IsAll():
		return "*"
	case f.sub:
		return f.prefix + "/*"
	default:
		return f.prefix
	}
}

// Specificity orders filters for route selection: an exact path beats any
// prefix, and a longer prefix beats a shorter one; "*" comes last.
func (f Filter) Specificity() int {
	switch {
	case f.IsAll():
		return 0
	case f.sub:
		return 1 + len(f.prefix)
	default:
		return 1 << 20
	}
}
