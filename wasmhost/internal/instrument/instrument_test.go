package instrument

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/edgews/edgews/transcoders/builtin"
	"github.com/edgews/edgews/wasmhost/abi"
	. "github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// testModule has an endless loop, a counting loop and an exponential
// recursion without any loop, the three ways to burn a call's budget.
func testModule() []byte {
	count := []byte{
		0x03, 0x40, // loop
		0x20, 0x01, 0x20, 0x00, 0x6a, 0x21, 0x01, // acc += n
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, // n--, tee
		0x0d, 0x00, // br_if 0
		0x0b,
		0x20, 0x01,
	}
	// rec(n) = n == 0 ? 0 : rec(n-1) + rec(n-1) + 1 ; function index 2.
	rec := []byte{
		0x20, 0x00, 0x45, 0x04, 0x7f, 0x41, 0x00, 0x05,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x02,
		0x6a, 0x41, 0x01, 0x6a, 0x0b,
	}
	m := Module{
		MemoryPages: 1,
		Funcs: []Func{
			{Type: FuncType{}, Code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}, Export: "spin"},
			{Type: FuncType{Params: []byte{I32}, Results: []byte{I32}}, Locals: []byte{I32}, Code: count, Export: "count"},
			{Type: FuncType{Params: []byte{I32}, Results: []byte{I32}}, Code: rec, Export: "rec"},
		},
	}
	return m.Bytes()
}

var errStop = errors.New("stopped by the test")

// instantiate runs wasm next to a yield import that counts its calls, lets
// the scheduler in, and aborts the call once *stop is set.
func instantiate(t *testing.T, wasm []byte, stop *atomic.Bool, yields *atomic.Int64) api.Module {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { _ = rt.Close(ctx) })
	_, err := rt.NewHostModuleBuilder(abi.ImportModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
			if yields != nil {
				yields.Add(1)
			}
			if stop != nil && stop.Load() {
				panic(errStop)
			}
			runtime.Gosched()
			stack[0] = Period
		}), nil, []api.ValueType{api.ValueTypeI32}).Export(abi.ImportYield).Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

func TestInstrumentedModuleRuns(t *testing.T) {
	t.Parallel()
	res, err := Instrument(testModule())
	if err != nil {
		t.Fatal(err)
	}
	if res.Funcs != 3 || res.Loops != 2 || res.Fuel != 0 || res.Yield != 0 {
		t.Fatalf("result = funcs %d loops %d fuel %d yield %d, want 3 2 0 0", res.Funcs, res.Loops, res.Fuel, res.Yield)
	}
	var yields atomic.Int64
	mod := instantiate(t, res.Wasm, nil, &yields)
	ctx := context.Background()
	got, err := mod.ExportedFunction("count").Call(ctx, 10)
	if err != nil || got[0] != 55 {
		t.Fatalf("count(10) = %v, %v; want 55", got, err)
	}
	got, err = mod.ExportedFunction("rec").Call(ctx, 5)
	if err != nil || got[0] != 31 {
		t.Fatalf("rec(5) = %v, %v; want 31", got, err)
	}
	if n := yields.Load(); n != 0 {
		t.Fatalf("yield called %d times in short calls, want 0", n)
	}
	// 3*Period loop iterations must reach yield three times.
	if _, err := mod.ExportedFunction("count").Call(ctx, 3*Period); err != nil {
		t.Fatal(err)
	}
	if n := yields.Load(); n != 3 {
		t.Fatalf("yield called %d times, want 3", n)
	}
}

// TestRenumbering calls through an import, an export, a start function, a
// table and ref.func after the yield import has shifted every index.
func TestRenumbering(t *testing.T) {
	t.Parallel()
	// Function 0 is the imported "double", 1 the start function, 2 "viaCall",
	// 3 "viaTable" (call_indirect through an element segment to 2).
	m := Module{
		Imports: []Import{{Module: "env", Name: "double", Type: FuncType{Params: []byte{I32}, Results: []byte{I32}}}},
		Funcs: []Func{
			{Code: []byte{0x01}},
			{Type: FuncType{Params: []byte{I32}, Results: []byte{I32}}, Code: []byte{0x20, 0x00, 0x10, 0x00, 0x41, 0x01, 0x6a}, Export: "viaCall"},
			{Type: FuncType{Params: []byte{I32}, Results: []byte{I32}}, Code: []byte{0x20, 0x00, 0x41, 0x00, 0x11, 0x00, 0x00}, Export: "viaTable"},
		},
	}
	wasm := m.Bytes()
	// Add a table with an element segment naming function 2, and a start
	// section naming function 1, by hand: wasmbuild keeps to the basics.
	wasm = withTableElemStart(t, wasm)
	res, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	_, err = rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(x uint32) uint32 { return 2 * x }).Export("double").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.NewHostModuleBuilder(abi.ImportModule).NewFunctionBuilder().
		WithFunc(func() uint32 { return Period }).Export(abi.ImportYield).Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	for fn, want := range map[string]uint64{"viaCall": 21, "viaTable": 21} {
		got, err := mod.ExportedFunction(fn).Call(ctx, 10)
		if err != nil || got[0] != want {
			t.Errorf("%s(10) = %v, %v; want %d", fn, got, err, want)
		}
	}
}

// withTableElemStart inserts a table section (one funcref), a start section
// (function 1) and an element segment (function 2 at slot 0) into a module
// built by wasmbuild.
func withTableElemStart(t testing.TB, wasm []byte) []byte {
	t.Helper()
	secs, err := split(wasm)
	if err != nil {
		t.Fatal(err)
	}
	secs = insertSection(secs, section{4, []byte{1, 0x70, 0x00, 0x01}})
	secs = insertSection(secs, section{secStart, []byte{1}})
	secs = insertSection(secs, section{secElement, []byte{1, 0x00, 0x41, 0x00, 0x0b, 1, 2}})
	out := append([]byte(nil), wasm[:8]...)
	for _, s := range secs {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.payload)))
		out = append(out, s.payload...)
	}
	return out
}

// TestInterrupt shows that the yield import can stop an endless loop, a long
// loop and an exponential recursion, even with more of them running than
// there are Go processors.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	res, err := Instrument(testModule())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{{"spin", nil}, {"count", []uint64{0}}, {"rec", []uint64{62}}} {
		t.Run(tc.fn, func(t *testing.T) {
			t.Parallel()
			var stop atomic.Bool
			mod := instantiate(t, res.Wasm, &stop, nil)
			done := make(chan error, 1)
			go func() {
				_, err := mod.ExportedFunction(tc.fn).Call(context.Background(), tc.args...)
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			stop.Store(true)
			select {
			case err := <-done:
				if !errors.Is(err, errStop) {
					t.Fatalf("err = %v, want errStop", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the call did not stop after the interrupt")
			}
		})
	}
}

func TestInstrumentAddsSections(t *testing.T) {
	t.Parallel()
	// A module with neither globals nor exports gets both sections, in order.
	m := Module{Funcs: []Func{{Code: []byte{0x01}}}}
	res, err := Instrument(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	instantiate(t, res.Wasm, nil, nil)
}

func TestInstrumentRefuses(t *testing.T) {
	t.Parallel()
	good := testModule()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not wasm", []byte("hello world!"), ErrMalformed},
		{"version 2", append([]byte("\x00asm\x02\x00\x00\x00"), good[8:]...), ErrUnsupported},
		{"truncated", good[:len(good)-3], ErrMalformed},
		{"unknown section", append(append([]byte{}, good...), 0x20, 0x00), ErrUnsupported},
		{"section out of order", append(append([]byte{}, good...), 0x01, 0x01, 0x00), ErrMalformed},
		{"unknown opcode", (&Module{Funcs: []Func{{Code: []byte{0x06}}}}).Bytes(), ErrUnsupported},
		{"threads opcode", (&Module{Funcs: []Func{{Code: []byte{0xfe, 0x00}}}}).Bytes(), ErrUnsupported},
		{"overlong leb", (&Module{Funcs: []Func{{Code: []byte{0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}}}}).Bytes(), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Instrument(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// immediatesCode has one instruction of each immediate shape, followed by
// a loop that must still be found: if any immediate were mis-sized the
// loop would be missed or the parse would fail.
var immediatesCode = []byte{
	0x02, 0x40, 0x0b, // block
	0x41, 0x7f, 0x1a, // i32.const -1 drop
	0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x1a, // i64.const, 10 bytes
	0x43, 0, 0, 0x80, 0x3f, 0x1a, // f32.const
	0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, // f64.const
	0x41, 0x00, 0x28, 0x02, 0x00, 0x1a, // i32.load
	0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0a, 0x00, 0x00, // memory.copy
	0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00, // memory.fill
	0x41, 0x00, 0xfd, 0x00, 0x04, 0x00, // v128.load
	0xfd, 0x15, 0x03, 0x1a, // i8x16.extract_lane_s 3
	0xfd, 0x0c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0x1a, // v128.const
	0x02, 0x40, 0x41, 0x00, 0x0e, 0x02, 0x00, 0x00, 0x00, 0x0b, // br_table
	0xd0, 0x70, 0xd1, 0x1a, // ref.null func, ref.is_null
	0x41, 0x01, 0x41, 0x02, 0x41, 0x01, 0x1c, 0x01, 0x7f, 0x1a, // select i32
	0x3f, 0x00, 0x1a, // memory.size
	0x03, 0x40, 0x0b, // loop
}

func TestImmediates(t *testing.T) {
	t.Parallel()
	m := Module{MemoryPages: 1, Funcs: []Func{{Code: immediatesCode, Export: "f"}}}
	res, err := Instrument(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if res.Loops != 1 {
		t.Fatalf("loops = %d, want 1", res.Loops)
	}
	mod := instantiate(t, res.Wasm, nil, nil)
	if _, err := mod.ExportedFunction("f").Call(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// FuzzInstrument checks that the rewrite never changes whether wazero
// accepts a module: a valid module stays valid, and an invalid one cannot
// become valid (an index that named nothing must not come to name the
// fuel global, the yield type or the yield import). Inputs Instrument
// refuses are not given to wazero: its decoder allocates by the counts in
// the input, which Instrument checks first.
func FuzzInstrument(f *testing.F) {
	f.Add(testModule())
	f.Add((&Module{Funcs: []Func{{Code: []byte{0x01}}}}).Bytes())
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add(fuelThief())
	f.Add(withTableElemStart(f, (&Module{Funcs: []Func{{Code: []byte{0x01}}, {Code: []byte{0x01}}, {Code: []byte{0x01}}}}).Bytes()))
	f.Add((&Module{MemoryPages: 1, Funcs: []Func{{Code: immediatesCode, Export: "f"}}}).Bytes())
	f.Add((&Module{MemoryPages: 1, Data: []byte("data"), Globals: []Global{{Init: 7}}, Tables: []Table{{Min: 1, Max: -1}},
		Imports: []Import{{Module: "env", Name: "f", Type: FuncType{Params: []byte{I32}}}},
		Funcs: []Func{{Type: FuncType{Params: []byte{I32}}, Locals: []byte{I64, I32}, Code: []byte{
			0x03, 0x40, 0x03, 0x40, 0x20, 0x00, 0x10, 0x00, 0x0b, 0x23, 0x00, 0x24, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x01, 0xfc, 0x0b, 0x00, 0x0b,
		}, Export: "g"}}}).Bytes())
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	f.Cleanup(func() { _ = rt.Close(ctx) })
	valid := func(b []byte) error {
		c, err := rt.CompileModule(ctx, b)
		if err == nil {
			_ = c.Close(ctx)
		}
		return err
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := Instrument(in)
		if err != nil {
			return
		}
		if endsWithEmptyCustom(in) {
			// wazero v1.12 fails to read an empty custom section at the
			// very end of a module (a zero-byte read at the end of its
			// buffer reports EOF); the output has the added sections
			// after it and loads.
			return
		}
		errIn, errOut := valid(in), valid(res.Wasm)
		if (errIn == nil) != (errOut == nil) {
			t.Fatalf("wazero on the input: %v; on the output: %v", errIn, errOut)
		}
	})
}

func endsWithEmptyCustom(wasm []byte) bool {
	secs, err := split(wasm)
	if err != nil || len(secs) == 0 || secs[len(secs)-1].id != secCustom {
		return false
	}
	r := reader{b: secs[len(secs)-1].payload}
	r.name()
	return r.err == nil && r.off == len(r.b)
}

// BenchmarkInstrument rewrites the embedded Go identity module (about
// 2 MiB), the work Load adds before compiling.
func BenchmarkInstrument(b *testing.B) {
	wasm := builtin.Identity()
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
