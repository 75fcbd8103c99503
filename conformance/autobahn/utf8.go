package autobahn

// utf8Validator checks UTF-8 incrementally, chunk by chunk, and reports the
// first octet that makes the sequence invalid. It accepts exactly what RFC 3629
// accepts: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF. Once a sequence is invalid it stays invalid until reset.
//
// The results mirror what the official fuzzing client needs from its
// validator: whether the bytes so far are valid, whether they end on a code
// point boundary, and the total number of octets consumed.
type utf8Validator struct {
	need   int  // continuation octets still expected for the current code point
	lo, hi byte // allowed range of the next continuation octet
	failed bool
	total  int // octets consumed before the failure (or in total)

	// surrogates accepts encoded UTF-16 surrogates, as the UTF-8 decoder of
	// Python 2 does. The validator proper never sets it.
	surrogates bool
}

// utf8Result is the outcome of one validate call.
type utf8Result struct {
	valid    bool // no invalid octet seen so far
	complete bool // valid and the sequence ends on a code point boundary
	index    int  // total octets consumed (index of the offending octet when invalid)
}

func (v *utf8Validator) reset() { *v = utf8Validator{surrogates: v.surrogates} }

// validate consumes p. On an invalid octet it stops and reports its index.
// An empty chunk after a failure reports valid but incomplete, as the DFA of
// the official client does; callers rely on that quirk for fidelity.
func (v *utf8Validator) validate(p []byte) utf8Result {
	if v.failed {
		if len(p) == 0 {
			return utf8Result{valid: true, complete: false, index: v.total}
		}
		return utf8Result{index: v.total}
	}
	for i, b := range p {
		if v.need == 0 {
			switch {
			case b < 0x80:
				continue
			case b >= 0xC2 && b <= 0xDF:
				v.need, v.lo, v.hi = 1, 0x80, 0xBF
			case b == 0xE0:
				v.need, v.lo, v.hi = 2, 0xA0, 0xBF
			case b == 0xED && !v.surrogates:
				v.need, v.lo, v.hi = 2, 0x80, 0x9F
			case b >= 0xE1 && b <= 0xEF:
				v.need, v.lo, v.hi = 2, 0x80, 0xBF
			case b == 0xF0:
				v.need, v.lo, v.hi = 3, 0x90, 0xBF
			case b >= 0xF1 && b <= 0xF3:
				v.need, v.lo, v.hi = 3, 0x80, 0xBF
			case b == 0xF4:
				v.need, v.lo, v.hi = 3, 0x80, 0x8F
			default:
				return v.fail(i)
			}
			continue
		}
		if b < v.lo || b > v.hi {
			return v.fail(i)
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
	}
	v.total += len(p)
	return utf8Result{valid: true, complete: v.need == 0, index: v.total}
}

func (v *utf8Validator) fail(i int) utf8Result {
	v.failed = true
	v.total += i
	return utf8Result{index: v.total}
}

// validUTF8 reports whether p is complete, valid UTF-8.
func validUTF8(p []byte) bool {
	var v utf8Validator
	r := v.validate(p)
	return r.valid && r.complete
}

// py2Decodable reports whether Python 2 would decode p as UTF-8 without an
// error: like validUTF8, but encoded surrogates pass.
func py2Decodable(p []byte) bool {
	v := utf8Validator{surrogates: true}
	r := v.validate(p)
	return r.valid && r.complete
}
