package sio

import (
	"bytes"
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrJSON reports text that is not valid JSON (RFC 8259).
var ErrJSON = errors.New("sio: invalid JSON")

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 256

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// Valid reports whether b is exactly one JSON value (with optional
// surrounding whitespace).
func Valid(b []byte) bool {
	i, err := value(b, skipSpace(b, 0), 0)
	return err == nil && skipSpace(b, i) == len(b)
}

// value scans the JSON value starting at b[i] and returns the index after
// it.
func value(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, ErrJSON
	}
	switch c := b[i]; {
	case c == '{':
		return object(b, i, depth+1, nil)
	case c == '[':
		return array(b, i, depth+1, nil)
	case c == '"':
		return str(b, i)
	case c == '-' || (c >= '0' && c <= '9'):
		return number(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return i, ErrJSON
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, ErrJSON
}

func number(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, ErrJSON
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return i, ErrJSON
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return i, ErrJSON
		}
	}
	return i, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// Eight bytes at a time: in a Go guest on Wasm a loop iteration costs
// several nanoseconds (every backward jump goes through the function's
// dispatch loop and a budget check), so the string scanners skip runs of
// plain bytes a word at a time.
const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// plain8 reports whether none of the 8 bytes in x (in any order) needs a
// closer look in a JSON string: each is printable ASCII other than '"' and
// '\\'. Each test below is exact for "some byte is": a byte below 0x20, a
// byte with the high bit set, a '"', a '\\'.
func plain8(x uint64) bool {
	ctl := (x - 0x20*ones) &^ x & high
	quote := (x ^ '"'*ones - ones) &^ (x ^ '"'*ones) & high
	bslash := (x ^ '\\'*ones - ones) &^ (x ^ '\\'*ones) & high
	return ctl|x&high|quote|bslash == 0
}

// str scans a string token starting at the opening quote.
func str(b []byte, i int) (int, error) {
	i++
	for i < len(b) {
		if i+8 <= len(b) && plain8(load8(b[i:])) {
			i += 8
			continue
		}
		c := b[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++ // the common case: plain ASCII
			continue
		}
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return i, ErrJSON
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, ErrJSON
				}
				i += 6
			default:
				return i, ErrJSON
			}
		case c < 0x20:
			return i, ErrJSON
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, ErrJSON
			}
			i += size
		}
	}
	return i, ErrJSON
}

// array scans an array starting at '['; each element's raw bytes go to
// elem when it is not nil.
func array(b []byte, i, depth int, elem func([]byte)) (int, error) {
	if depth > maxDepth {
		return i, ErrJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		start := skipSpace(b, i)
		end, err := value(b, start, depth)
		if err != nil {
			return end, err
		}
		if elem != nil {
			elem(b[start:end])
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return i, ErrJSON
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return i, ErrJSON
		}
	}
}

// object scans an object starting at '{'; each member's raw key token and
// value go to member when it is not nil.
func object(b []byte, i, depth int, member func(key, val []byte)) (int, error) {
	if depth > maxDepth {
		return i, ErrJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		ks := skipSpace(b, i)
		if ks >= len(b) || b[ks] != '"' {
			return ks, ErrJSON
		}
		ke, err := str(b, ks)
		if err != nil {
			return ke, err
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, ErrJSON
		}
		vs := skipSpace(b, i+1)
		ve, err := value(b, vs, depth)
		if err != nil {
			return ve, err
		}
		if member != nil {
			member(b[ks:ke], b[vs:ve])
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return i, ErrJSON
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, nil
		default:
			return i, ErrJSON
		}
	}
}

// SplitArray returns the raw elements of the JSON array b.
func SplitArray(b []byte) ([][]byte, error) {
	return AppendElems(nil, b)
}

// AppendElems appends the raw elements of the JSON array b to elems, in
// one validating pass.
func AppendElems(elems [][]byte, b []byte) ([][]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return elems, ErrJSON
	}
	end, err := array(b, i, 1, func(e []byte) { elems = append(elems, e) })
	if err != nil || skipSpace(b, end) != len(b) {
		return elems, ErrJSON
	}
	return elems, nil
}

// Members calls f with each member of the JSON object b: the unquoted key
// and the raw value. The key is only valid during the call; a key without
// escapes is passed without copying.
func Members(b []byte, f func(key, val []byte)) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ErrJSON
	}
	var uerr error
	end, err := object(b, i, 1, func(k, v []byte) {
		inner := k[1 : len(k)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			f(inner, v)
			return
		}
		key, err := Unquote(k)
		if err != nil {
			uerr = err
			return
		}
		f([]byte(key), v)
	})
	if err != nil || uerr != nil || skipSpace(b, end) != len(b) {
		return ErrJSON
	}
	return nil
}

// IsString reports whether the raw value b is a JSON string token.
func IsString(b []byte) bool { return len(b) >= 2 && b[0] == '"' }

// IsArray reports whether the raw value b is a JSON array.
func IsArray(b []byte) bool { return len(b) >= 2 && b[0] == '[' }

// IsObject reports whether the raw value b is a JSON object.
func IsObject(b []byte) bool { return len(b) >= 2 && b[0] == '{' }

// Unquote decodes a JSON string token.
func Unquote(tok []byte) (string, error) {
	if end, err := str(tok, 0); err != nil || end != len(tok) || len(tok) < 2 || tok[0] != '"' {
		return "", ErrJSON
	}
	s, err := strconv.Unquote(jsonToGoQuoted(tok))
	if err != nil {
		return "", ErrJSON
	}
	return s, nil
}

// jsonToGoQuoted rewrites the escapes that JSON has and Go lacks (\/ and
// \u surrogates, paired or lone) so that strconv.Unquote can decode it.
func jsonToGoQuoted(tok []byte) string {
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '\\' || i+1 >= len(tok) {
			out = append(out, c)
			continue
		}
		switch tok[i+1] {
		case '/':
			out = append(out, '/')
			i++
		case 'u':
			r1 := hex4(tok[i+2 : i+6])
			if r1 >= 0xd800 && r1 < 0xdc00 && i+12 <= len(tok) && tok[i+6] == '\\' && tok[i+7] == 'u' {
				if r2 := hex4(tok[i+8 : i+12]); r2 >= 0xdc00 && r2 < 0xe000 {
					r := (r1-0xd800)<<10 + (r2 - 0xdc00) + 0x10000
					out = utf8.AppendRune(out, rune(r))
					i += 11
					continue
				}
			}
			if r1 >= 0xd800 && r1 < 0xe000 {
				out = append(out, `\ufffd`...) // a lone surrogate
			} else {
				out = append(out, tok[i:i+6]...) // Go reads \uXXXX the same way
			}
			i += 5
		default:
			out = append(out, c, tok[i+1])
			i++
		}
	}
	return string(out)
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v |= int(c-'A') + 10
		}
	}
	return v
}

const hexDigits = "0123456789abcdef"

// AppendQuote appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func AppendQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(load8s(s[i:])) {
			dst = append(dst, s[i:i+8]...)
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == 0x2028 || r == 0x2029:
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// ParseUint parses a raw JSON number that must be a non-negative integer of
// at most 2^53-1 (the integers JavaScript holds exactly).
func ParseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if len(b) > 1 && b[0] == '0' || v > 1<<53-1 {
		return 0, false
	}
	return v, true
}
