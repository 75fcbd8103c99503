package instrument

import "fmt"

// reader decodes the parts of the binary format the rewriter walks. The
// first error sticks; later reads return zero values.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(kind error, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format+" at offset %d", append(append([]any{kind}, args...), r.off)...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(ErrMalformed, "unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.fail(ErrMalformed, "length %d past end", n)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

// leb reads an LEB128 number of at most maxBytes bytes and returns its low
// 64 bits (callers that need the value use u32).
func (r *reader) leb(maxBytes int) uint64 {
	var v uint64
	for i := 0; i < maxBytes; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail(ErrMalformed, "LEB128 longer than %d bytes", maxBytes)
	return 0
}

func (r *reader) u32() uint32 {
	v := r.leb(5)
	if v > 0xffffffff {
		r.fail(ErrMalformed, "u32 overflow")
		return 0
	}
	return uint32(v)
}

// count reads the length of a vector. Every element takes at least one
// byte, so a count larger than the bytes left is malformed; checking it
// here keeps a decoder that allocates by the count (wazero's does) from
// being asked for gigabytes by a few bytes of input.
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)-r.off) {
		r.fail(ErrMalformed, "vector of %d elements in %d bytes", n, len(r.b)-r.off)
		return 0
	}
	return n
}

// s33 reads a signed 33-bit LEB128 number (a block type index).
func (r *reader) s33() int64 {
	var v int64
	var shift uint
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
	r.fail(ErrMalformed, "LEB128 longer than 5 bytes")
	return 0
}

func (r *reader) name() []byte {
	return r.bytes(int(r.count()))
}

func (r *reader) limits() {
	flags := r.byte()
	if flags > 0x07 {
		r.fail(ErrUnsupported, "limits flags %#x", flags)
		return
	}
	r.leb(10)
	if flags&1 != 0 {
		r.leb(10)
	}
}

// blockType skips a block type. For a type index it returns the index
// and true; for an empty or single-value block type, or on error, false.
func (r *reader) blockType() (int64, bool) {
	if r.err != nil {
		return 0, false
	}
	if r.off >= len(r.b) {
		r.fail(ErrMalformed, "unexpected end")
		return 0, false
	}
	switch r.b[r.off] {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.off++
		return 0, false
	}
	v := r.s33() // type index
	return v, r.err == nil
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb(10)
}

// immediates skips the immediates of op, or fails for an opcode outside the
// enabled feature set.
func (r *reader) immediates(op byte) {
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b:
		// unreachable nop else end return drop select
	case op == 0x02, op == 0x04: // block if
		r.blockType()
	case op == 0x0c, op == 0x0d: // br br_if
		r.u32()
	case op == 0x0e: // br_table
		n := r.count()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x10: // call
		r.u32()
	case op == 0x11: // call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		n := r.count()
		r.bytes(int(n))
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f, op == 0x40: // memory.size memory.grow
		r.byte()
	case op == 0x41: // i32.const
		r.leb(5)
	case op == 0x42: // i64.const
		r.leb(10)
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op >= 0x45 && op <= 0xc4: // numeric, sign extension
	case op == 0xd0: // ref.null
		r.byte()
	case op == 0xd1: // ref.is_null
	case op == 0xd2: // ref.func
		r.u32()
	case op == 0xfc:
		r.miscImmediates(r.u32())
	case op == 0xfd:
		r.vecImmediates()
	default:
		r.fail(ErrUnsupported, "opcode %#x", op)
	}
}

func (r *reader) miscImmediates(sub uint32) {
	switch {
	case sub <= 7: // saturating truncation
	case sub == 8: // memory.init
		r.u32()
		r.byte()
	case sub == 9, sub == 13: // data.drop elem.drop
		r.u32()
	case sub == 10: // memory.copy
		r.byte()
		r.byte()
	case sub == 11: // memory.fill
		r.byte()
	case sub == 12, sub == 14: // table.init table.copy
		r.u32()
		r.u32()
	case sub >= 15 && sub <= 17: // table.grow table.size table.fill
		r.u32()
	default:
		r.fail(ErrUnsupported, "opcode 0xfc %d", sub)
	}
}

func (r *reader) vecImmediates() {
	switch sub := r.u32(); {
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads, store, load_zero
		r.memarg()
	case sub == 0x0c, sub == 0x0d: // v128.const i8x16.shuffle
		r.bytes(16)
	case sub >= 0x15 && sub <= 0x22: // extract/replace lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // load/store lane
		r.memarg()
		r.byte()
	case sub <= 0xff:
		// every other SIMD instruction has no immediate
	default:
		r.fail(ErrUnsupported, "opcode 0xfd %d", sub)
	}
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// end fails unless the whole payload was consumed.
func (r *reader) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail(ErrMalformed, "%d trailing bytes", len(r.b)-r.off)
	}
}
