package wsproto

import "unicode/utf8"

// UTF8 validates a UTF-8 stream that arrives in pieces. The zero value is
// ready for a new stream. Write returns false at the first byte that can
// never be part of valid UTF-8, even when the sequence it belongs to is not
// yet complete (for example 0xF4 0x90: above U+10FFFF).
type UTF8 struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // allowed range of the next continuation byte
}

// Reset prepares v for a new stream.
func (v *UTF8) Reset() { *v = UTF8{} }

// Complete reports whether the stream so far ends on a character boundary.
func (v *UTF8) Complete() bool { return v.need == 0 }

// Write feeds p and reports whether the stream is still valid.
func (v *UTF8) Write(p []byte) bool {
	i := 0
	for v.need > 0 && i < len(p) {
		if !v.cont(p[i]) {
			return false
		}
		i++
	}
	p = p[i:]
	if len(p) == 0 {
		return true
	}
	// Validate the complete part in bulk; keep a trailing incomplete
	// sequence (at most 3 bytes) for the byte-wise path.
	cut := len(p)
	for k := 1; k <= 3 && k <= len(p); k++ {
		c := p[len(p)-k]
		if c < 0x80 {
			break
		}
		if c >= 0xC0 {
			if n := seqLen(c); n > k {
				cut = len(p) - k
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, c := range p[cut:] {
		if v.need > 0 {
			if !v.cont(c) {
				return false
			}
			continue
		}
		if !v.lead(c) {
			return false
		}
	}
	return true
}

func (v *UTF8) cont(c byte) bool {
	if c < v.lo || c > v.hi {
		return false
	}
	v.lo, v.hi = 0x80, 0xBF
	v.need--
	return true
}

func (v *UTF8) lead(c byte) bool {
	switch {
	case c < 0x80:
		return true
	case c >= 0xC2 && c <= 0xDF:
		v.need, v.lo, v.hi = 1, 0x80, 0xBF
	case c == 0xE0:
		v.need, v.lo, v.hi = 2, 0xA0, 0xBF
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		v.need, v.lo, v.hi = 2, 0x80, 0xBF
	case c == 0xED:
		v.need, v.lo, v.hi = 2, 0x80, 0x9F
	case c == 0xF0:
		v.need, v.lo, v.hi = 3, 0x90, 0xBF
	case c >= 0xF1 && c <= 0xF3:
		v.need, v.lo, v.hi = 3, 0x80, 0xBF
	case c == 0xF4:
		v.need, v.lo, v.hi = 3, 0x80, 0x8F
	default:
		return false
	}
	return true
}

// seqLen is the length of the sequence a lead byte starts (0 if invalid).
func seqLen(c byte) int {
	switch {
	case c >= 0xC2 && c <= 0xDF:
		return 2
	case c >= 0xE0 && c <= 0xEF:
		return 3
	case c >= 0xF0 && c <= 0xF4:
		return 4
	}
	return 0
}
