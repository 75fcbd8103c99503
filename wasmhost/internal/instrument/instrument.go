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

// Period is the fuel the host's yield function normally hands back, and
// what the host resets the fuel to before each call: the work between two
// calls of yield, in fuel units (see the package documentation).
const Period = 4096

// FuelExport is the name under which the rewritten module exports its fuel
// global, so that the host can refill it before each call. A module that
// already exports this name is refused.
const FuelExport = "edgews.fuel"

// Cost model: one fuel unit is about instrsPerFuel instructions of straight
// code, or 1<<memShift bytes of a bulk memory instruction, or 1<<tableShift
// elements of a bulk table instruction.
const (
	instrsPerFuel = 64
	memShift      = 8
	tableShift    = 5
	maxStaticCost = 1 << 24
)

// Limits on what a module may declare, so that neither the host's
// decoder nor an instance can be made to allocate without bound.
const (
	// MaxLocals is the most locals one function may declare (the limit
	// of the major browser engines).
	MaxLocals = 50000
	// MaxTableElements is the largest a table may be or grow to; tables
	// without a maximum, or with a larger one, get this maximum.
	MaxTableElements = 1 << 18
	// MaxTables is the most tables a module may define.
	MaxTables = 8
)

// Result describes an instrumented module.
type Result struct {
	Wasm    []byte // the rewritten binary
	Yield   uint32 // function index of the added yield import
	Fuel    uint32 // index of the fuel global (exported as FuelExport)
	Scratch uint32 // index of the scratch global used by bulk-instruction charges
	Funcs   int    // function bodies instrumented
	Loops   int    // loops instrumented
	Bulk    int    // bulk memory and table instructions charged
}

const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// rank gives each known section its position in the order the spec requires.
var rank = map[byte]int{secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13}

type section struct {
	id      byte
	payload []byte
}

// rewriter carries what the section rewrites need to know.
type rewriter struct {
	types         uint32 // types before the yield type is added
	importedFuncs uint32 // function imports before the yield import is added
	globals       uint32 // globals (imported and defined) before fuel and scratch
	yield         uint32
	fuel, scratch uint32
	res           *Result

	regions []region // scratch of body, reused from body to body
	ctl     []int
	expr    []byte // scratch of checkData
}

// fn maps an old function index to its index after the yield import.
func (w *rewriter) fn(i uint32) uint32 {
	if i >= w.importedFuncs {
		return i + 1
	}
	return i
}

// typeIndex fails r unless i names one of the module's own types: the
// added yield type must stay out of the module's reach.
func (w *rewriter) typeIndex(r *reader, i uint32) {
	if i >= w.types {
		r.fail(ErrMalformed, "type index %d out of range", i)
	}
}

// globalIndex fails r unless i names one of the module's own globals: an
// index that would name the added fuel global in the output (which would
// let the guest refill its own fuel) is refused.
func (w *rewriter) globalIndex(r *reader, i uint32) {
	if i >= w.globals {
		r.fail(ErrMalformed, "global index %d out of range", i)
	}
}

// Instrument returns wasm with the yield import, the fuel and scratch
// globals, the fuel export and the checks added, and its tables capped at
// MaxTableElements.
func Instrument(wasm []byte) (Result, error) {
	secs, err := split(wasm)
	if err != nil {
		return Result{}, err
	}
	w := &rewriter{}
	var definedGlobals uint32
	for _, s := range secs {
		switch s.id {
		case secType:
			w.types, err = checkTypes(s.payload)
		case secImport:
			var importedGlobals uint32
			w.importedFuncs, importedGlobals, err = countImports(s.payload)
			w.globals += importedGlobals
		case secGlobal:
			r := reader{b: s.payload}
			definedGlobals = r.count()
			err = r.err
		}
		if err != nil {
			return Result{}, err
		}
	}
	w.globals += definedGlobals
	res := Result{Yield: w.importedFuncs, Fuel: w.globals, Scratch: w.globals + 1}
	w.yield, w.fuel, w.scratch, w.res = res.Yield, res.Fuel, res.Scratch, &res

	have := map[byte]bool{}
	for i := range secs {
		s := &secs[i]
		have[s.id] = true
		switch s.id {
		case secType:
			s.payload, err = appendVec(s.payload, yieldType)
		case secImport:
			// Type indexes of imports are checked here, once the type
			// count is known.
			if err = w.checkImportTypes(s.payload); err == nil {
				s.payload, err = appendVec(s.payload, yieldImport(w.types))
			}
		case secFunction:
			err = w.checkFunctions(s.payload)
		case secTable:
			s.payload, err = capTables(s.payload)
		case secMemory:
			err = checkMemories(s.payload)
		case secGlobal:
			s.payload, err = w.rewriteGlobals(s.payload)
		case secExport:
			s.payload, err = w.exports(s.payload)
		case secStart:
			s.payload, err = w.start(s.payload)
		case secElement:
			s.payload, err = w.elements(s.payload)
		case secDataCount:
			err = checkDataCount(s.payload)
		case secCode:
			s.payload, err = w.code(s.payload)
		case secData:
			err = w.checkData(s.payload)
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
		p, _ := appendVec([]byte{0}, yieldImport(w.types))
		secs = insertSection(secs, section{secImport, p})
	}
	if !have[secGlobal] {
		p, _ := w.rewriteGlobals([]byte{0})
		secs = insertSection(secs, section{secGlobal, p})
	}
	if !have[secExport] {
		p, _ := w.exports([]byte{0})
		secs = insertSection(secs, section{secExport, p})
	}

	out := make([]byte, 0, len(wasm)+(res.Funcs+res.Loops)*checkLen+res.Bulk*chargeLen+64)
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

// checkTypes walks the type section (so that no count in it is larger than
// the bytes that follow) and returns the number of types.
func checkTypes(p []byte) (uint32, error) {
	r := reader{b: p}
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); form != 0x60 {
			r.fail(ErrUnsupported, "type form %#x", form)
		}
		r.bytes(int(r.count())) // parameter types, one byte each
		r.bytes(int(r.count())) // result types
	}
	r.end()
	return n, r.err
}

func countImports(p []byte) (funcs, globals uint32, err error) {
	r := reader{b: p}
	n := r.count()
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

// checkImportTypes checks the type index of every function import.
func (w *rewriter) checkImportTypes(p []byte) error {
	r := reader{b: p}
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		switch r.byte() {
		case 0x00:
			w.typeIndex(&r, r.u32())
		case 0x01:
			r.byte()
			r.limits()
		case 0x02:
			r.limits()
		case 0x03:
			r.byte()
			r.byte()
		}
	}
	return r.err
}

func (w *rewriter) checkFunctions(p []byte) error {
	r := reader{b: p}
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		w.typeIndex(&r, r.u32())
	}
	r.end()
	return r.err
}

// capTables gives every table a maximum of at most MaxTableElements, and
// refuses a table whose minimum is larger or more than MaxTables tables:
// table.grow allocates host memory that the memory cap does not cover.
func capTables(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.count()
	if n > MaxTables {
		return nil, fmt.Errorf("%w: %d tables; at most %d", ErrUnsupported, n, MaxTables)
	}
	out := appendU32(nil, n)
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = append(out, r.byte()) // reference type
		flags := r.byte()
		if flags > 1 {
			r.fail(ErrUnsupported, "table limits flags %#x", flags)
			break
		}
		lo := r.u32()
		hi := uint32(MaxTableElements)
		if flags == 1 {
			hi = min(r.u32(), MaxTableElements)
		}
		if r.err == nil && lo > MaxTableElements {
			r.fail(ErrUnsupported, "table of %d elements; at most %d", lo, MaxTableElements)
		}
		if r.err == nil && lo > hi {
			r.fail(ErrMalformed, "table minimum %d above its maximum", lo)
		}
		out = appendU32(appendU32(append(out, 0x01), lo), hi)
	}
	r.end()
	return out, r.err
}

func checkMemories(p []byte) error {
	r := reader{b: p}
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.limits()
	}
	r.end()
	return r.err
}

// rewriteGlobals checks and renumbers the initialisers and appends the
// fuel global, (global (mut i32) (i32.const Period)), and the scratch
// global, (global (mut i32) (i32.const 0)).
func (w *rewriter) rewriteGlobals(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.count()
	out := appendU32(nil, n+2)
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = append(out, r.bytes(2)...) // valtype, mutability
		out = w.constExpr(&r, out)
	}
	r.end()
	out = append(out, 0x7f, 0x01)
	out = append(out, i32Const(Period)...)
	out = append(out, 0x0b, 0x7f, 0x01, 0x41, 0x00, 0x0b)
	return out, r.err
}

// exports renumbers function exports and adds the fuel export.
func (w *rewriter) exports(p []byte) ([]byte, error) {
	r := reader{b: p}
	n := r.count()
	out := appendU32(nil, n+1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		name := r.name()
		if string(name) == FuelExport {
			r.fail(ErrUnsupported, "the export name %q is reserved", FuelExport)
		}
		out = appendU32(out, uint32(len(name)))
		out = append(out, name...)
		kind := r.byte()
		idx := r.u32()
		switch kind {
		case 0x00:
			idx = w.fn(idx)
		case 0x03:
			w.globalIndex(&r, idx)
		}
		out = append(out, kind)
		out = appendU32(out, idx)
	}
	r.end()
	out = appendU32(out, uint32(len(FuelExport)))
	out = append(out, FuelExport...)
	out = append(out, 0x03)
	out = appendU32(out, w.fuel)
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
	n := r.count()
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
		count := r.count()
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

func checkDataCount(p []byte) error {
	r := reader{b: p}
	r.u32()
	r.end()
	return r.err
}

// checkData walks the data section so that no length in it is larger than
// the bytes that follow.
func (w *rewriter) checkData(p []byte) error {
	r := reader{b: p}
	n := r.count()
	for i := uint32(0); i < n && r.err == nil; i++ {
		switch flags := r.u32(); flags {
		case 0:
			w.expr = w.constExpr(&r, w.expr[:0])
		case 1:
		case 2:
			r.u32()
			w.expr = w.constExpr(&r, w.expr[:0])
		default:
			r.fail(ErrUnsupported, "data segment kind %d", flags)
		}
		r.bytes(int(r.count()))
	}
	r.end()
	return r.err
}

// constExpr copies a constant expression up to and including its end,
// renumbering ref.func and checking global.get.
func (w *rewriter) constExpr(r *reader, out []byte) []byte {
	for r.err == nil {
		start := r.off
		op := r.byte()
		switch op {
		case 0x0b:
			return append(out, op)
		case 0xd2:
			out = append(out, op)
			out = appendU32(out, w.fn(r.u32()))
			continue
		case 0x23:
			w.globalIndex(r, r.u32())
		default:
			r.immediates(op)
		}
		out = append(out, r.b[start:r.off]...)
	}
	return out
}

// custom renumbers the function indexes of the "name" section (dropping
// its subsections other than module, function and local names, which may
// name functions by index) and passes every other custom section through.
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
			s := reader{b: sub}
			s.name()
			s.end()
			r.err = s.err
			body = sub
		case 1: // function names: a name map
			s := reader{b: sub}
			body = w.nameMap(&s, nil)
			s.end()
			r.err = s.err
		case 2: // local names: an indirect name map
			s := reader{b: sub}
			n := s.count()
			body = appendU32(nil, n)
			for i := uint32(0); i < n && s.err == nil; i++ {
				body = appendU32(body, w.fn(s.u32()))
				start := s.off
				m := s.count()
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
		// wazero refuses a module whose name section it cannot read, so a
		// broken one is refused here too, rather than dropped (which would
		// load a module wazero would not).
		return nil, fmt.Errorf("name section: %w", r.err)
	}
	return out, nil
}

func (w *rewriter) nameMap(s *reader, out []byte) []byte {
	n := s.count()
	out = appendU32(out, n)
	for i := uint32(0); i < n && s.err == nil; i++ {
		out = appendU32(out, w.fn(s.u32()))
		name := s.name()
		out = appendU32(out, uint32(len(name)))
		out = append(out, name...)
	}
	return out
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
