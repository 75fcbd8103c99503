package instrument

import "fmt"

// The checks the rewriter inserts. Each is stack-neutral, so it is valid
// between any two instructions.
//
// A check at a function entry or a loop head charges a static cost:
//
//	global.get $fuel  i32.const cost  i32.sub  global.set $fuel
//	global.get $fuel  i32.const 1  i32.lt_s
//	if  call $yield  global.set $fuel  end
//
// where cost is encoded as a 5-byte LEB128 so that it can be patched once
// the region it pays for has been read.
//
// A charge before a bulk instruction takes its length operand from the top
// of the stack and pays for it before the work is done:
//
//	global.set $scratch  global.get $scratch
//	global.get $fuel  global.get $scratch  i32.const shift  i32.shr_u
//	i32.const 1  i32.add  i32.sub  global.set $fuel
//	(the test and yield as above)

// checkLen and chargeLen bound the bytes of one check or charge (indexes
// take at most 5 bytes each).
const (
	checkLen  = 2 + 5 + 5 + 1 + 2 + 5 + 2 + 5 + 2 + 5 + 2 + 5 + 1
	chargeLen = 4*(1+5) + 2 + 2 + 1 + 1 + 1 + 1 + 2 + 5 + 2 + 5 + 2 + 5 + 1
)

// appendTest appends "if fuel < 1 then fuel = yield()".
func (w *rewriter) appendTest(b []byte) []byte {
	b = appendU32(append(b, 0x23), w.fuel)      // global.get fuel
	b = append(b, 0x41, 0x01, 0x48, 0x04, 0x40) // i32.const 1, i32.lt_s, if
	b = appendU32(append(b, 0x10), w.yield)     // call yield
	b = appendU32(append(b, 0x24), w.fuel)      // global.set fuel
	return append(b, 0x0b)                      // end
}

// appendCheck appends a check with a zero cost and returns the offset of
// the cost's 5 bytes, for patchCost.
func (w *rewriter) appendCheck(b []byte) ([]byte, int) {
	b = appendU32(append(b, 0x23), w.fuel) // global.get fuel
	b = append(b, 0x41)                    // i32.const
	at := len(b)
	b = append(b, 0x80, 0x80, 0x80, 0x80, 0x00)
	b = appendU32(append(b, 0x6b, 0x24), w.fuel) // i32.sub, global.set fuel
	return w.appendTest(b), at
}

// patchCost writes cost as a 5-byte signed LEB128 at b[at:].
func patchCost(b []byte, at int, cost uint32) {
	cost = min(cost, maxStaticCost)
	for i := 0; i < 4; i++ {
		b[at+i] = byte(cost>>(7*i))&0x7f | 0x80
	}
	b[at+4] = byte(cost >> 28)
}

// appendCharge appends the charge for a bulk instruction whose length
// operand is on top of the stack: 1 + (length >> shift) fuel units.
func (w *rewriter) appendCharge(b []byte, shift byte) []byte {
	b = appendU32(append(b, 0x24), w.scratch) // global.set scratch
	b = appendU32(append(b, 0x23), w.scratch) // global.get scratch
	b = appendU32(append(b, 0x23), w.fuel)    // global.get fuel
	b = appendU32(append(b, 0x23), w.scratch) // global.get scratch
	b = append(b, 0x41, shift, 0x76)          // i32.const shift, i32.shr_u
	b = append(b, 0x41, 0x01, 0x6a, 0x6b)     // i32.const 1, i32.add, i32.sub
	b = appendU32(append(b, 0x24), w.fuel)    // global.set fuel
	return w.appendTest(b)
}

// region is a stretch of code paid for by one check: a function body
// outside its loops, or one loop outside the loops it contains. Each
// instruction of a region runs at most once per pass through its check
// (control only goes backwards to a loop head), so charging the region's
// instruction count at its check bounds the straight code run between
// checks, however the code branches.
type region struct {
	at    int    // offset of the check's cost in the output
	instr uint32 // instructions in the region
}

func (w *rewriter) code(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.count()
	out := make([]byte, 0, len(p)+int(n)*checkLen*2)
	out = appendU32(out, n)
	var body []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		in := r.bytes(int(size))
		if r.err != nil {
			return nil, r.err
		}
		var err error
		body, err = w.body(body[:0], in)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	r.end()
	return out, r.err
}

// body rewrites one function body. ctl is the stack of open blocks: for a
// loop, the index of its region plus one; for any other block, zero.
func (w *rewriter) body(out, in []byte) ([]byte, error) {
	r := reader{b: in}
	groups := r.count()
	var locals uint64
	for i := uint32(0); i < groups && r.err == nil; i++ {
		locals += uint64(r.u32())
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	if locals > MaxLocals {
		return nil, fmt.Errorf("%w: %d locals; at most %d", ErrUnsupported, locals, MaxLocals)
	}
	out = append(out, in[:r.off]...)
	out, at := w.appendCheck(out)
	// A frame costs stack in proportion to its locals: count them with
	// the entry, so that deep recursion pays for the stack it takes.
	regions := append(w.regions[:0], region{at: at, instr: uint32(locals)})
	ctl := w.ctl[:0]
	// Keep the slices for the next body.
	defer func() { w.regions, w.ctl = regions, ctl }()
	cur := 0 // the region instructions are counted in
	w.res.Funcs++
	copied := r.off
	for r.off < len(in) {
		start := r.off
		op := r.byte()
		regions[cur].instr++
		switch op {
		case 0x02, 0x04: // block, if
			w.blockType(&r)
			ctl = append(ctl, 0)
		case 0x03: // loop: the check goes after its block type
			w.blockType(&r)
			if r.err != nil {
				return nil, r.err
			}
			out = append(out, in[copied:r.off]...)
			out, at = w.appendCheck(out)
			copied = r.off
			regions = append(regions, region{at: at})
			cur = len(regions) - 1
			ctl = append(ctl, cur+1)
			w.res.Loops++
		case 0x0b: // end
			if len(ctl) == 0 {
				if r.off != len(in) {
					return nil, fmt.Errorf("%w: code after the body's end", ErrMalformed)
				}
				break
			}
			if top := ctl[len(ctl)-1]; top > 0 {
				cur = enclosingLoop(ctl[:len(ctl)-1])
			}
			ctl = ctl[:len(ctl)-1]
		case 0x10, 0xd2: // call, ref.func: renumber
			out = append(out, in[copied:r.off]...)
			out = appendU32(out, w.fn(r.u32()))
			copied = r.off
		case 0x11: // call_indirect
			w.typeIndex(&r, r.u32())
			r.u32()
		case 0x23, 0x24: // global.get, global.set
			w.globalIndex(&r, r.u32())
		case 0xfc:
			if shift, ok := bulkShift(&r); ok {
				out = append(out, in[copied:start]...)
				out = w.appendCharge(out, shift)
				copied = start
				w.res.Bulk++
			}
		default:
			r.immediates(op)
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if len(in) == 0 || in[len(in)-1] != 0x0b || len(ctl) != 0 {
		return nil, fmt.Errorf("%w: body does not end with end", ErrMalformed)
	}
	out = append(out, in[copied:]...)
	for _, g := range regions {
		patchCost(out, g.at, 1+g.instr/instrsPerFuel)
	}
	return out, nil
}

// enclosingLoop returns the region of the innermost loop in ctl, or 0 (the
// function's own region) when there is none.
func enclosingLoop(ctl []int) int {
	for i := len(ctl) - 1; i >= 0; i-- {
		if ctl[i] > 0 {
			return ctl[i] - 1
		}
	}
	return 0
}

// blockType skips a block type, checking a type index.
func (w *rewriter) blockType(r *reader) {
	if v, ok := r.blockType(); ok && (v < 0 || v >= int64(w.types)) {
		r.fail(ErrMalformed, "block type %d", v)
	}
}

// bulkShift reads the 0xfc sub-opcode and its immediates and, for a bulk
// memory or table instruction (whose last operand is a length), returns
// the shift that turns the length into fuel units.
func bulkShift(r *reader) (byte, bool) {
	sub := r.u32()
	r.miscImmediates(sub)
	switch sub {
	case 8, 10, 11: // memory.init, memory.copy, memory.fill
		return memShift, true
	case 12, 14, 15, 17: // table.init, table.copy, table.grow, table.fill
		return tableShift, true
	}
	return 0, false
}
