package wasmbuild

// Value types.
const (
	I32 = 0x7f
	I64 = 0x7e
)

// FuncType is a function signature.
type FuncType struct {
	Params, Results []byte
}

// Import is an imported function.
type Import struct {
	Module, Name string
	Type         FuncType
}

// Func is a defined function; Code is its instruction sequence without the
// final end, Locals its extra locals (one entry each).
type Func struct {
	Type   FuncType
	Locals []byte
	Code   []byte
	Export string // export name, or "" for none
}

// Table is a funcref table; Max < 0 means no maximum.
type Table struct {
	Min uint32
	Max int64
}

// Global is a mutable i32 global with an initial value.
type Global struct {
	Init int32
}

// Module is everything a test module can have.
type Module struct {
	Imports     []Import
	Funcs       []Func
	Tables      []Table
	Globals     []Global
	MemoryPages uint32 // minimum pages of the exported "memory"; 0 means no memory
	Data        []byte // written at address 0 by an active data segment
}

// Bytes encodes m. Function indexes count imports first, in order, then
// Funcs in order.
func (m *Module) Bytes() []byte {
	var types []FuncType
	typeIndex := func(t FuncType) uint32 {
		for i, u := range types {
			if string(u.Params) == string(t.Params) && string(u.Results) == string(t.Results) {
				return uint32(i)
			}
		}
		types = append(types, t)
		return uint32(len(types) - 1)
	}
	var imports, funcs, exports, code []byte
	imports = U32(imports, uint32(len(m.Imports)))
	for _, im := range m.Imports {
		imports = Name(imports, im.Module)
		imports = Name(imports, im.Name)
		imports = append(imports, 0x00)
		imports = U32(imports, typeIndex(im.Type))
	}
	funcs = U32(funcs, uint32(len(m.Funcs)))
	code = U32(code, uint32(len(m.Funcs)))
	nExports := 0
	for i, f := range m.Funcs {
		funcs = U32(funcs, typeIndex(f.Type))
		var body []byte
		body = U32(body, uint32(len(f.Locals)))
		for _, l := range f.Locals {
			body = append(body, 1, l)
		}
		body = append(body, f.Code...)
		body = append(body, 0x0b)
		code = U32(code, uint32(len(body)))
		code = append(code, body...)
		if f.Export != "" {
			nExports++
			exports = Name(exports, f.Export)
			exports = append(exports, 0x00)
			exports = U32(exports, uint32(len(m.Imports)+i))
		}
	}
	if m.MemoryPages > 0 {
		nExports++
		exports = Name(exports, "memory")
		exports = append(exports, 0x02, 0x00)
	}
	exports = append(U32(nil, uint32(nExports)), exports...)

	var typeSec []byte
	typeSec = U32(typeSec, uint32(len(types)))
	for _, t := range types {
		typeSec = append(typeSec, 0x60)
		typeSec = U32(typeSec, uint32(len(t.Params)))
		typeSec = append(typeSec, t.Params...)
		typeSec = U32(typeSec, uint32(len(t.Results)))
		typeSec = append(typeSec, t.Results...)
	}

	out := []byte("\x00asm\x01\x00\x00\x00")
	out = section(out, 1, typeSec)
	if len(m.Imports) > 0 {
		out = section(out, 2, imports)
	}
	out = section(out, 3, funcs)
	if len(m.Tables) > 0 {
		tables := U32(nil, uint32(len(m.Tables)))
		for _, t := range m.Tables {
			if t.Max < 0 {
				tables = U32(append(tables, 0x70, 0x00), t.Min)
			} else {
				tables = U32(U32(append(tables, 0x70, 0x01), t.Min), uint32(t.Max))
			}
		}
		out = section(out, 4, tables)
	}
	if m.MemoryPages > 0 {
		out = section(out, 5, U32([]byte{1, 0x00}, m.MemoryPages))
	}
	if len(m.Globals) > 0 {
		globals := U32(nil, uint32(len(m.Globals)))
		for _, g := range m.Globals {
			globals = append(I32Const(append(globals, I32, 0x01), g.Init), 0x0b)
		}
		out = section(out, 6, globals)
	}
	out = section(out, 7, exports)
	out = section(out, 10, code)
	if len(m.Data) > 0 {
		data := []byte{1, 0x00, 0x41, 0x00, 0x0b}
		data = U32(data, uint32(len(m.Data)))
		data = append(data, m.Data...)
		out = section(out, 11, data)
	}
	return out
}

func section(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = U32(out, uint32(len(payload)))
	return append(out, payload...)
}

// U32 appends v as unsigned LEB128.
func U32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// I32Const appends the instruction i32.const v.
func I32Const(b []byte, v int32) []byte {
	b = append(b, 0x41)
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

// Name appends a length-prefixed name.
func Name(b []byte, s string) []byte {
	b = U32(b, uint32(len(s)))
	return append(b, s...)
}
