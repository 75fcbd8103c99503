package instrument

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero/api"

	. "github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// fuelThief has no globals of its own and stores to global 0 in a loop:
// invalid as written, but after a rewrite that appended the fuel global
// without checking, global 0 would be the fuel, and the loop would refill
// it forever and never yield.
func fuelThief() []byte {
	code := []byte{0x03, 0x40} // loop
	code = I32Const(code, 1<<30)
	code = append(code, 0x24, 0x00, 0x0c, 0x00, 0x0b) // global.set 0, br 0, end
	return (&Module{Funcs: []Func{{Code: code, Export: "spin"}}}).Bytes()
}

// withSections puts raw sections into a module built by wasmbuild,
// replacing a section of the same id.
func withSections(t testing.TB, wasm []byte, add ...section) []byte {
	t.Helper()
	secs, err := split(wasm)
	if err != nil {
		t.Fatal(err)
	}
next:
	for _, s := range add {
		for i := range secs {
			if secs[i].id == s.id {
				secs[i] = s
				continue next
			}
		}
		secs = insertSection(secs, s)
	}
	out := append([]byte(nil), wasm[:8]...)
	for _, s := range secs {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.payload)))
		out = append(out, s.payload...)
	}
	return out
}

// TestOutOfReach shows that a module cannot name what the rewrite adds:
// the fuel and scratch globals, the yield type. Each of these modules is
// invalid as written and must stay so.
func TestOutOfReach(t *testing.T) {
	t.Parallel()
	oneGlobal := []Global{{Init: 1}}
	tests := []struct {
		name string
		wasm []byte
	}{
		{"global.set of the fuel", fuelThief()},
		{"global.get of the scratch", (&Module{Globals: oneGlobal, Funcs: []Func{{Code: []byte{0x23, 0x02, 0x1a}}}}).Bytes()},
		{"global.set past the module's globals", (&Module{Globals: oneGlobal, Funcs: []Func{{Code: []byte{0x41, 0x00, 0x24, 0x01}}}}).Bytes()},
		{"export of the fuel", withSections(t, (&Module{Funcs: []Func{{Code: []byte{0x01}}}}).Bytes(),
			section{secExport, []byte{1, 1, 'g', 0x03, 0x00}})},
		{"initialiser reading the fuel", withSections(t, (&Module{Funcs: []Func{{Code: []byte{0x01}}}}).Bytes(),
			section{secGlobal, []byte{1, 0x7f, 0x00, 0x23, 0x01, 0x0b}})},
		{"call_indirect through the yield type", withSections(t,
			(&Module{Funcs: []Func{{Code: []byte{0x41, 0x00, 0x11, 0x01, 0x00, 0x1a}}}}).Bytes(),
			section{secTable, []byte{1, 0x70, 0x00, 0x01}})},
		{"block of the yield type", (&Module{Funcs: []Func{{Code: []byte{0x02, 0x01, 0x41, 0x00, 0x0b, 0x1a}}}}).Bytes()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Instrument(tc.wasm); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestCountsBounded feeds vectors whose counts promise far more elements
// than the bytes that follow. wazero's decoder would allocate by the count
// (gigabytes); Instrument refuses them first.
func TestCountsBounded(t *testing.T) {
	t.Parallel()
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f}
	base := (&Module{Funcs: []Func{{Code: []byte{0x01}}}}).Bytes()
	tests := []struct {
		name string
		wasm []byte
		want error
	}{
		{"function section", append(append([]byte("\x00asm\x01\x00\x00\x00"), 3, 5), huge...), ErrMalformed},
		{"table section", append(append([]byte("\x00asm\x01\x00\x00\x00"), 4, 5), huge...), ErrMalformed},
		{"memory section", append(append([]byte("\x00asm\x01\x00\x00\x00"), 5, 5), huge...), ErrMalformed},
		{"type parameters", append([]byte("\x00asm\x01\x00\x00\x00\x01\x07\x01\x60"), huge...), ErrMalformed},
		{"data bytes", withSections(t, base, section{secData, append([]byte{1, 1}, huge...)}), ErrMalformed},
		{"locals", (&Module{Funcs: []Func{{Locals: bytes.Repeat([]byte{I32}, MaxLocals+1), Code: []byte{0x01}}}}).Bytes(), ErrUnsupported},
		{"tag section", withSections(t, base, section{13, []byte{0}}), ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Instrument(tc.wasm); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestTablesCapped shows that table.grow cannot take a table past
// MaxTableElements (in wazero each element is 8 bytes of host memory the
// memory cap does not see), and that larger tables are refused.
func TestTablesCapped(t *testing.T) {
	t.Parallel()
	// grow(n) = table.grow 0 (ref.null func) n
	grow := Func{Type: FuncType{Params: []byte{I32}, Results: []byte{I32}}, Code: []byte{0xd0, 0x70, 0x20, 0x00, 0xfc, 15, 0x00}, Export: "grow"}
	for _, tab := range []Table{{Min: 1, Max: -1}, {Min: 1, Max: 1 << 30}} {
		res, err := Instrument((&Module{Tables: []Table{tab}, Funcs: []Func{grow}}).Bytes())
		if err != nil {
			t.Fatal(err)
		}
		mod := instantiate(t, res.Wasm, nil, nil)
		ctx := context.Background()
		for _, tc := range []struct{ n, want uint32 }{{MaxTableElements, 0xffffffff}, {MaxTableElements - 1, 1}} {
			got, err := mod.ExportedFunction("grow").Call(ctx, uint64(tc.n))
			if err != nil || uint32(got[0]) != tc.want {
				t.Fatalf("table %+v: grow(%d) = %v, %v; want %#x", tab, tc.n, got, err, tc.want)
			}
		}
	}
	for name, m := range map[string]Module{
		"minimum over the cap": {Tables: []Table{{Min: MaxTableElements + 1, Max: -1}}},
		"too many tables":      {Tables: make([]Table, MaxTables+1)},
	} {
		if _, err := Instrument(m.Bytes()); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v, want ErrUnsupported", name, err)
		}
	}
}

// nops returns n nop instructions.
func nops(n int) []byte { return bytes.Repeat([]byte{0x01}, n) }

// TestFuelCost runs code whose cost per loop iteration or call comes from
// its size, a bulk instruction's length or a frame's locals, and counts
// the yields: one per Period units of fuel. Charging one unit per
// iteration or call instead (as a loop-head counter does) would let each
// of these run Period times its budget's worth of work between yields.
func TestFuelCost(t *testing.T) {
	t.Parallel()
	one := FuncType{Params: []byte{I32}}
	countdown := []byte{0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00} // n--, br_if 0 while n != 0
	// Each body's loop (or call) costs about 100 units.
	big := append(append([]byte{0x03, 0x40}, nops(6400)...), append(countdown, 0x0b)...)
	fill := append([]byte{0x03, 0x40, 0x41, 0x00, 0x41, 0x00}, I32Const(nil, 99<<memShift)...)
	fill = append(append(fill, 0xfc, 11, 0x00), append(countdown, 0x0b)...)
	nested := []byte{0x03, 0x40, 0x03, 0x40, 0x0b} // outer loop, an inner loop run once,
	nested = append(append(nested, nops(6400)...), append(countdown, 0x0b)...)
	// recurse(n) = n == 0 ? 0 : recurse(n-1); with 6400 locals, function 3.
	recurse := []byte{0x20, 0x00, 0x04, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x03, 0x0b}
	m := Module{MemoryPages: 1, Funcs: []Func{
		{Type: one, Code: big, Export: "big"},
		{Type: one, Code: fill, Export: "fill"},
		{Type: one, Code: nested, Export: "nested"},
		{Type: one, Locals: bytes.Repeat([]byte{I64}, 6400), Code: recurse, Export: "recurse"},
	}}
	res, err := Instrument(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if res.Bulk != 1 {
		t.Fatalf("bulk instructions charged = %d, want 1", res.Bulk)
	}
	for _, fn := range []string{"big", "fill", "nested", "recurse"} {
		t.Run(fn, func(t *testing.T) {
			t.Parallel()
			var yields atomic.Int64
			mod := instantiate(t, res.Wasm, nil, &yields)
			const n = 400 // iterations or calls; about 40,000 units
			if _, err := mod.ExportedFunction(fn).Call(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			if got := yields.Load(); got < 9 || got > 11 {
				t.Fatalf("%d yields for about %d units of fuel, want about %d", got, n*100, n*100/Period)
			}
		})
	}
}

// TestFuelExport shows that the host can refill or drain the fuel through
// the export: with the fuel set to 1, the next check yields.
func TestFuelExport(t *testing.T) {
	t.Parallel()
	res, err := Instrument(testModule())
	if err != nil {
		t.Fatal(err)
	}
	var yields atomic.Int64
	mod := instantiate(t, res.Wasm, nil, &yields)
	g, ok := mod.ExportedGlobal(FuelExport).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %q", FuelExport)
	}
	g.Set(1)
	if _, err := mod.ExportedFunction("count").Call(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if yields.Load() != 1 || g.Get() == 0 {
		t.Fatalf("yields = %d, fuel = %d; want 1 yield and a refill", yields.Load(), g.Get())
	}
	// A module that exports the reserved name is refused.
	if _, err := Instrument(res.Wasm); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("re-instrumenting: err = %v, want ErrUnsupported", err)
	}
}
