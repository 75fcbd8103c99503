package instrument

import (
	"errors"
	"fmt"

	"github.com/edgews/edgews/wasmhost/abi"
)

// Errors returned by Instrument, wrapped with the detail.
var (
	ErrMalformed   = errors.New("instrument: malformed module")
	ErrUnsupported = errors.New("instrument: unsupported module")
)

// Period is the fuel the host's yield function normally hands back: the
// number of checks between two calls of yield.
const Period = 4096

// Result describes an instrumented module.
type Result struct {
	Wasm  []byte // the rewritten binary
	Yield uint32 // function index of the added yield import
	Fuel  uint32 // index of the fuel global
	Funcs int    // function bodies instrumented
	Loops int    // loops instrumented
}

const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secDataCount = 12
	secTag       = 13
)

// rank gives each known section its position in the order the spec requires.
var rank = map[byte]int{secType: 1, secImport: 2, 3: 3, 4: 4, 5: 5, secTag: 6, secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, 11: 13}

type section struct {
	id      byte
	payload []byte
}

// rewriter carries what the section rewrites need to know.
type rewriter struct {
	importedFuncs uint32 // function imports before the yield import is added
	yield, fuel   uint32
	check         []byte
	res           *Result
}

// fn maps an old function index to its index after the yield import.
func (w *rewriter) fn(i uint32) uint32 {
	if i >= w.importedFuncs {
		return i + 1
	}
	return i
}

// Instrument returns wasm with the yield import, the fuel global and the
// checks added.
func Instrument(wasm []byte) (Result, error) {
	secs, err := split(wasm)
	if err != nil {
		return Result{}, err
	}
	var types, importedFuncs, importedGlobals, definedGlobals uint32
	for _, s := range secs {
		switch s.id {
		case secType:
			r := reader{b: s.payload}
			types = r.u32()
			if r.err != nil {
				return Result{}, r.err
			}
		case secImport:
			if importedFuncs, importedGlobals, err = countImports(s.payload); err != nil {
				return Result{}, err
			}
		case secGlobal:
			r := reader{b: s.payload}
			definedGlobals = r.u32()
			if r.err != nil {
				return Result{}, r.err
			}
		}
	}
	res := Result{Yield: importedFuncs, Fuel: importedGlobals + definedGlobals}
	w := &rewriter{importedFuncs: importedFuncs, yield: res.Yield, fuel: res.Fuel, res: &res}
	w.check = w.checkBytes()

	have := map[byte]bool{}
	for i := range secs {
		s := &secs[i]
		have[s.id] = true
		switch s.id {
		case secType:
			s.payload, err = appendVec(s.payload, yieldType)
		case secImport:
			s.payload, err = appendVec(s.payload, yieldImport(types))
		case secGlobal:
			s.payload, err = w.globals(s.payload)
		case secExport:
			s.payload, err = w.exports(s.payload)
		case secStart:
			s.payload, err = w.start(s.payload)
		case secElement:
			s.payload, err = w.elements(s.payload)
		case secCode:
			s.payload, err = w.code(s.payload)
		case secCustom:
			s.payload, err = w.custom(s.payload)
		}
		if err != nil {
			return Result{}, err
		}
	}
	if !have[secType] {
		p, _ := appendVec([]byte{0}, yieldType)
		secs = insertSection(secs, section{secType, p})
	}
	if !have[secImport] {
		p, _ := appendVec([]byte{0}, yieldImport(types))
		secs = insertSection(secs, section{secImport, p})
	}
	if !have[secGlobal] {
		p, _ := w.globals([]byte{0})
		secs = insertSection(secs, section{secGlobal, p})
	}

	out := make([]byte, 0, len(wasm)+(res.Funcs+res.Loops)*len(w.check)+64)
	out = append(out, wasm[:8]...)
	for _, s := range secs {
		if s.payload == nil && s.id == secCustom {
			continue // a dropped custom section
		}
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.payload)))
		out = append(out, s.payload...)
	}
	res.Wasm = out
	return res, nil
}

func split(wasm []byte) ([]section, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%w: not a WebAssembly binary", ErrMalformed)
	}
	if string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("%w: binary version %x", ErrUnsupported, wasm[4:8])
	}
	r := reader{b: wasm, off: 8}
	var secs []section
	last := 0
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		payload := r.bytes(int(size))
		if r.err != nil {
			return nil, r.err
		}
		if id != secCustom {
			rk, ok := rank[id]
			if !ok {
				return nil, fmt.Errorf("%w: section id %d", ErrUnsupported, id)
			}
			if rk <= last {
				return nil, fmt.Errorf("%w: section %d out of order", ErrMalformed, id)
			}
			last = rk
		}
		secs = append(secs, section{id, payload})
	}
	return secs, nil
}

// checkBytes is the check inserted at every function entry and loop head.
func (w *rewriter) checkBytes() []byte {
	b := []byte{0x23}
	b = appendU32(b, w.fuel) // global.get fuel
	b = append(b, 0x41, 0x01, 0x6b, 0x24)
	b = appendU32(b, w.fuel) // i32.const 1, i32.sub, global.set fuel
	b = append(b, 0x23)
	b = appendU32(b, w.fuel)                    // global.get fuel
	b = append(b, 0x41, 0x01, 0x48, 0x04, 0x40) // i32.const 1, i32.lt_s, if
	b = append(b, 0x10)
	b = appendU32(b, w.yield) // call yield
	b = append(b, 0x24)
	b = appendU32(b, w.fuel) // global.set fuel
	return append(b, 0x0b)   // end
}

// insertSection puts s before the first known section that must follow it.
func insertSection(secs []section, s section) []section {
	for i, t := range secs {
		if t.id != secCustom && rank[t.id] > rank[s.id] {
			secs = append(secs[:i+1], secs[i:]...)
			secs[i] = s
			return secs
		}
	}
	return append(secs, s)
}

// appendVec appends one encoded entry to a vector section.
func appendVec(p, entry []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	out := appendU32(make([]byte, 0, len(p)+len(entry)+5), n+1)
	out = append(out, p[r.off:]...)
	return append(out, entry...), nil
}

// yieldType is the encoded function type () -> i32.
var yieldType = []byte{0x60, 0x00, 0x01, 0x7f}

func yieldImport(typ uint32) []byte {
	b := appendU32(nil, uint32(len(abi.ImportModule)))
	b = append(b, abi.ImportModule...)
	b = appendU32(b, uint32(len(abi.ImportYield)))
	b = append(b, abi.ImportYield...)
	b = append(b, 0x00)
	return appendU32(b, typ)
}

func countImports(p []byte) (funcs, globals uint32, err error) {
	r := reader{b: p}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // func
			r.u32()
			funcs++
		case 0x01: // table
			r.byte()
			r.limits()
		case 0x02: // memory
			r.limits()
		case 0x03: // global
			r.byte()
			r.byte()
			globals++
		default:
			r.fail(ErrUnsupported, "import kind %#x", kind)
		}
	}
	r.end()
	return funcs, globals, r.err
}

// globals renumbers ref.func in the initialisers and appends the fuel
// global, (global (mut i32) (i32.const Period)).
func (w *rewriter) globals(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.u32()
	out := appendU32(nil, n+1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = append(out, r.bytes(2)...) // valtype, mutability
		out = w.constExpr(&r, out)
	}
	r.end()
	out = append(out, 0x7f, 0x01)
	out = append(out, i32Const(Period)...)
	return append(out, 0x0b), r.err
}

func (w *rewriter) exports(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.u32()
	out := appendU32(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.name()
		out = appendU32(out, uint32(len(name)))
		out = append(out, name...)
		kind := r.byte()
		idx := r.u32()
		if kind == 0x00 {
			idx = w.fn(idx)
		}
		out = append(out, kind)
		out = appendU32(out, idx)
	}
	r.end()
	return out, r.err
}

func (w *rewriter) start(p []byte) ([]byte, error) {
	r := reader{b: p}
	idx := r.u32()
	r.end()
	return appendU32(nil, w.fn(idx)), r.err
}

func (w *rewriter) elements(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.u32()
	out := appendU32(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		flags := r.u32()
		out = appendU32(out, flags)
		if flags > 7 {
			r.fail(ErrUnsupported, "element segment kind %d", flags)
			break
		}
		if flags&0x2 != 0 && flags&0x1 == 0 { // explicit table index
			out = appendU32(out, r.u32())
		}
		if flags&0x1 == 0 { // active: offset expression
			out = w.constExpr(&r, out)
		}
		if flags&0x3 != 0 { // elemkind or reftype
			out = append(out, r.byte())
		}
		count := r.u32()
		out = appendU32(out, count)
		for j := uint32(0); j < count && r.err == nil; j++ {
			if flags&0x4 != 0 {
				out = w.constExpr(&r, out)
			} else {
				out = appendU32(out, w.fn(r.u32()))
			}
		}
	}
	r.end()
	return out, r.err
}

// constExpr copies a constant expression up to and including its end,
// renumbering ref.func.
func (w *rewriter) constExpr(r *reader, out []byte) []byte {
	for r.err == nil {
		start := r.off
		op := r.byte()
		if op == 0x0b {
			return append(out, op)
		}
		if op == 0xd2 {
			out = append(out, op)
			out = appendU32(out, w.fn(r.u32()))
			continue
		}
		r.immediates(op)
		out = append(out, r.b[start:r.off]...)
	}
	return out
}

// custom renumbers the function indexes of the "name" section and passes
// every other custom section through.
func (w *rewriter) custom(p []byte) ([]byte, error) {
	r := reader{b: p}
	name := r.name()
	if r.err != nil {
		return nil, r.err
	}
	if string(name) != "name" {
		return p, nil
	}
	out := append([]byte(nil), p[:r.off]...)
	for r.off < len(p) && r.err == nil {
		id := r.byte()
		sub := r.bytes(int(r.u32()))
		if r.err != nil {
			break
		}
		var body []byte
		switch id {
		case 0: // module name
			body = sub
		case 1: // function names: a name map
			s := reader{b: sub}
			body = w.nameMap(&s, nil)
			s.end()
			r.err = s.err
		case 2: // local names: an indirect name map
			s := reader{b: sub}
			n := s.u32()
			body = appendU32(nil, n)
			for i := uint32(0); i < n && s.err == nil; i++ {
				body = appendU32(body, w.fn(s.u32()))
				start := s.off
				m := s.u32()
				for j := uint32(0); j < m && s.err == nil; j++ {
					s.u32()
					s.name()
				}
				body = append(body, sub[start:s.off]...)
			}
			s.end()
			r.err = s.err
		default:
			continue // dropped: it may name functions by index
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if r.err != nil {
		// A broken name section is only debug information: drop it rather
		// than refuse the module.
		return nil, nil
	}
	return out, nil
}

func (w *rewriter) nameMap(s *reader, out []byte) []byte {
	n := s.u32()
	out = appendU32(out, n)
	for i := uint32(0); i < n && s.err == nil; i++ {
		out = appendU32(out, w.fn(s.u32()))
		name := s.name()
		out = appendU32(out, uint32(len(name)))
		out = append(out, name...)
	}
	return out
}

func (w *rewriter) code(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.u32()
	out := make([]byte, 0, len(p)+int(n)*len(w.check)*2)
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

func (w *rewriter) body(out, in []byte) ([]byte, error) {
	r := reader{b: in}
	groups := r.u32()
	for i := uint32(0); i < groups && r.err == nil; i++ {
		r.u32()
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, in[:r.off]...)
	out = append(out, w.check...)
	w.res.Funcs++
	copied := r.off
	for r.off < len(in) {
		op := r.byte()
		switch op {
		case 0x03: // loop: the check goes after its block type
			r.blockType()
			if r.err != nil {
				return nil, r.err
			}
			out = append(out, in[copied:r.off]...)
			out = append(out, w.check...)
			copied = r.off
			w.res.Loops++
		case 0x10, 0xd2: // call, ref.func: renumber
			out = append(out, in[copied:r.off]...)
			out = appendU32(out, w.fn(r.u32()))
			copied = r.off
		default:
			r.immediates(op)
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	out = append(out, in[copied:]...)
	if len(in) == 0 || in[len(in)-1] != 0x0b {
		return nil, fmt.Errorf("%w: body does not end with end", ErrMalformed)
	}
	return out, nil
}

func i32Const(v int32) []byte {
	b := []byte{0x41}
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if (x == 0 && c&0x40 == 0) || (x == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
