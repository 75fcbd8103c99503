package wasmhost_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// The tests here use hand-written modules (tinyModule with the inbound or
// timer export replaced) for what a Go guest cannot easily express: raw
// instructions, raw WASI calls, raw table and global access.

const wasi = "wasi_snapshot_preview1"

// callWithin runs call on its own goroutine and fails t unless it returns
// within limit: a hang guard, not a timing assertion (the calls here end
// at their 100 ms budget; without the fixes they ran for minutes or
// forever). The elapsed time is checked too, because a guest that never
// yields stalls the whole process (the garbage collector's stop-the-world
// waits for it), timers included.
func callWithin(t *testing.T, limit time.Duration, call func() error) error {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		if d := time.Since(start); d > limit {
			t.Fatalf("the call returned after %v, more than %v", d, limit)
		}
		return err
	case <-time.After(limit):
		t.Fatalf("the call did not return within %v", limit)
		return nil
	}
}

func loadTiny(t *testing.T, wasm []byte, cfg wasmhost.ModuleConfig) *wasmhost.Module {
	t.Helper()
	mod, err := shared.Load(context.Background(), t.Name(), wasm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mod.Close(context.Background()) })
	return mod
}

// TestFuelOutOfReach: a module that stores to a global index just past its
// own globals would, after a careless rewrite, refill its own fuel forever
// and never yield — freezing the process (no goroutine can stop it, not
// even the garbage collector's stop-the-world). It is refused at load.
func TestFuelOutOfReach(t *testing.T) {
	t.Parallel()
	code := []byte{0x03, 0x40} // loop
	code = wasmbuild.I32Const(code, 1<<30)
	code = append(code, 0x24, 0x00, 0x0c, 0x00, 0x0b, 0x41, 0x00) // global.set 0, br 0, end, i32.const 0
	wasm := tinyModule(func(m *wasmbuild.Module) { m.Funcs[4].Code = code })
	_, err := shared.Load(context.Background(), "fuel-thief", wasm, wasmhost.ModuleConfig{})
	if !errors.Is(err, wasmhost.ErrInvalidModule) || !strings.Contains(err.Error(), "global index") {
		t.Fatalf("err = %v, want ErrInvalidModule naming the global index", err)
	}
}

// TestTableGrowCapped: table.grow allocates 8 bytes of host memory per
// element, outside MaxMemoryPages; a table without a maximum could grow to
// 2^32 elements (32 GiB). The rewrite caps tables, so growing one by 64M
// elements fails (-1) and the guest sees that; it used to allocate 512 MiB.
func TestTableGrowCapped(t *testing.T) {
	t.Parallel()
	code := []byte{0xd0, 0x70} // ref.null func
	code = wasmbuild.I32Const(code, 64<<20)
	code = append(code, 0xfc, 15, 0x00)         // table.grow 0
	code = append(code, 0x41, 0x7f, 0x46, 0x45) // == -1, eqz: status 0 when the grow failed
	wasm := tinyModule(func(m *wasmbuild.Module) {
		m.Tables = []wasmbuild.Table{{Min: 0, Max: -1}}
		m.Funcs[4].Code = code
	})
	mod := loadTiny(t, wasm, wasmhost.ModuleConfig{})
	if err := mod.Inbound(context.Background(), &nullHost{}, false, []byte("x")); err != nil {
		t.Fatalf("the grow was not refused: %v", err)
	}
}

// TestBulkMemoryBudget: one fuel check per loop iteration does not bound
// a loop whose body fills 16 MiB twenty times (about 4096 iterations, tens
// of seconds, passed between yields). Bulk instructions pay for their
// length, so the call stops at its budget.
func TestBulkMemoryBudget(t *testing.T) {
	t.Parallel()
	code := []byte{0x03, 0x40}
	for i := 0; i < 20; i++ {
		code = append(code, 0x41, 0x00, 0x41, 0x00)
		code = wasmbuild.I32Const(code, 16<<20)
		code = append(code, 0xfc, 0x0b, 0x00) // memory.fill
	}
	code = append(code, 0x0c, 0x00, 0x0b, 0x41, 0x00)
	wasm := tinyModule(func(m *wasmbuild.Module) {
		m.MemoryPages = 256
		m.Funcs[4].Code = code
	})
	mod := loadTiny(t, wasm, wasmhost.ModuleConfig{CallTimeout: 100 * time.Millisecond, MaxMemoryPages: 256})
	err := callWithin(t, 10*time.Second, func() error {
		return mod.Inbound(context.Background(), &nullHost{}, false, []byte("x"))
	})
	if ce := callErr(t, err); ce.Kind != wasmhost.KindTimeout {
		t.Fatalf("kind = %v, want timeout", ce.Kind)
	}
}

// TestHostWorkBudget: a loop that asks random_get for 16 MiB per iteration
// spends its time in the host, where no fuel is counted; the host checks
// the budget itself as it works.
func TestHostWorkBudget(t *testing.T) {
	t.Parallel()
	i32 := byte(wasmbuild.I32)
	code := []byte{0x03, 0x40, 0x41, 0x00}
	code = wasmbuild.I32Const(code, 16<<20)
	code = append(code, 0x10, 0x00, 0x1a, 0x0c, 0x00, 0x0b, 0x41, 0x00) // call random_get, drop, br 0
	wasm := tinyModule(func(m *wasmbuild.Module) {
		m.MemoryPages = 256
		m.Imports = []wasmbuild.Import{{Module: wasi, Name: "random_get", Type: wasmbuild.FuncType{Params: []byte{i32, i32}, Results: []byte{i32}}}}
		m.Funcs[4].Code = code
	})
	mod := loadTiny(t, wasm, wasmhost.ModuleConfig{CallTimeout: 100 * time.Millisecond, MaxMemoryPages: 256})
	err := callWithin(t, 10*time.Second, func() error {
		return mod.Inbound(context.Background(), &nullHost{}, false, []byte("x"))
	})
	if ce := callErr(t, err); ce.Kind != wasmhost.KindTimeout {
		t.Fatalf("kind = %v, want timeout", ce.Kind)
	}
}

// TestFdWriteBounded: one fd_write of 65536 iovecs, each naming all 16 MiB
// of memory, used to push a terabyte through the log line splitter in a
// single host call, beyond the reach of any budget check. The host takes
// at most 64 KiB per call (a short write, which WASI allows) and says so.
func TestFdWriteBounded(t *testing.T) {
	t.Parallel()
	i32 := byte(wasmbuild.I32)
	// for i in 0..65536: store {ptr 0, len 16 MiB} at i*8
	code := []byte{0x03, 0x40, 0x20, 0x02, 0x41, 0x03, 0x74}
	code = wasmbuild.I32Const(code, 16<<20)
	code = append(code, 0x36, 0x02, 0x04, 0x20, 0x02, 0x41, 0x01, 0x6a, 0x22, 0x02)
	code = wasmbuild.I32Const(code, 65536)
	code = append(code, 0x49, 0x0d, 0x00, 0x0b)
	// fd_write(1, 0, 65536, 1 MiB); deliver the 4 bytes of nwritten.
	code = append(code, 0x41, 0x01, 0x41, 0x00)
	code = wasmbuild.I32Const(code, 65536)
	code = wasmbuild.I32Const(code, 1<<20)
	code = append(code, 0x10, 0x00, 0x1a, 0x41, 0x01)
	code = wasmbuild.I32Const(code, 1<<20)
	code = append(code, 0x41, 0x04, 0x10, 0x01)
	wasm := tinyModule(func(m *wasmbuild.Module) {
		m.MemoryPages = 256
		m.Imports = []wasmbuild.Import{
			{Module: wasi, Name: "fd_write", Type: wasmbuild.FuncType{Params: []byte{i32, i32, i32, i32}, Results: []byte{i32}}},
			{Module: abi.ImportModule, Name: abi.ImportDeliver, Type: wasmbuild.FuncType{Params: []byte{i32, i32, i32}, Results: []byte{i32}}},
		}
		m.Funcs[4].Locals = []byte{i32}
		m.Funcs[4].Code = code
	})
	mod := loadTiny(t, wasm, wasmhost.ModuleConfig{CallTimeout: 100 * time.Millisecond, MaxMemoryPages: 256})
	h := &countHost{}
	if err := callWithin(t, 10*time.Second, func() error { return mod.Inbound(context.Background(), h, false, []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint32([]byte(h.last)); n != 64<<10 {
		t.Fatalf("fd_write took %d bytes, want a short write of 64 KiB", n)
	}
}

// TestStackReleased: wazero gives every resolved export its own call
// stack, which grows with the deepest recursion and never shrinks. A guest
// that recursed a million calls deep and returned normally used to leave
// its instance holding about 80 MiB outside MaxMemoryPages; the host now
// re-resolves the export after a call that ran that long. Not parallel:
// it measures the heap.
func TestStackReleased(t *testing.T) {
	i32 := byte(wasmbuild.I32)
	// func 8: rec(n) = n == 0 ? 0 : rec(n-1) + 1; the timer export calls rec(id).
	wasm := tinyModule(func(m *wasmbuild.Module) {
		m.Funcs = append(m.Funcs, wasmbuild.Func{Type: wasmbuild.FuncType{Params: []byte{i32}, Results: []byte{i32}},
			Code: []byte{0x20, 0x00, 0x04, 0x7f, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x08, 0x41, 0x01, 0x6a, 0x05, 0x41, 0x00, 0x0b}})
		m.Funcs[7].Code = []byte{0x20, 0x00, 0x10, 0x08, 0x1a, 0x41, 0x00}
	})
	mod := loadTiny(t, wasm, wasmhost.ModuleConfig{CallTimeout: 10 * time.Second, MaxInstances: 1})
	before := heapInUse()
	if err := mod.Timer(context.Background(), &nullHost{}, 1_000_000); err != nil {
		t.Fatal(err)
	}
	if grown := int64(heapInUse()) - int64(before); grown > 16<<20 {
		t.Fatalf("the heap grew by %d MiB after a deep recursion", grown>>20)
	}
	if st := mod.Stats(); st.InstancesCreated != 1 || st.Failed() != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestAttrAndTimerLimits: a guest can store at most abi.MaxAttrTotal bytes
// of attributes per socket (it used to be unbounded: a guest could make
// the server hold gigabytes), cannot touch the host's count, and has
// timer ids 0 to abi.MaxTimerID only (each id is a server timer).
func TestAttrAndTimerLimits(t *testing.T) {
	t.Parallel()
	h := loadHarness(t, "hostile", hostileConfig)
	s := h.NewSocket(wasmhost.SocketInfo{ID: "attrs"})
	for _, m := range []string{"attrbomb", "timerid"} {
		if err := s.Inbound(false, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	d := s.TakeDeliveries()
	want := []string{"15 guest: too large <nil> false guest: bad argument", "guest: bad argument"}
	if len(d) != 2 || string(d[0].Data) != want[0] || string(d[1].Data) != want[1] {
		t.Fatalf("deliveries = %v, want %q", d, want)
	}
	total := 0
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("k%d", i)
		if v, ok := s.Attr(k); ok {
			total += len(k) + len(v)
		}
	}
	if count, _ := s.Attr(abi.ReservedAttrKey); total > abi.MaxAttrTotal || string(count) != strconv.Itoa(total) {
		t.Fatalf("guest attributes hold %d bytes, the host counted %q; the limit is %d", total, count, abi.MaxAttrTotal)
	}
}

// TestDeliverText: text handed to the listeners must be UTF-8, as text
// frames must; the guest gets BAD_ARGUMENT and nothing is delivered.
func TestDeliverText(t *testing.T) {
	t.Parallel()
	i32 := byte(wasmbuild.I32)
	wasm := tinyModule(func(m *wasmbuild.Module) {
		m.Data = []byte{0xff, 0xfe}
		m.Imports = []wasmbuild.Import{{Module: abi.ImportModule, Name: abi.ImportDeliver, Type: wasmbuild.FuncType{Params: []byte{i32, i32, i32}, Results: []byte{i32}}}}
		m.Funcs[4].Code = []byte{0x20, 0x00, 0x41, 0x00, 0x41, 0x02, 0x10, 0x00} // deliver(flags, 0, 2)
	})
	mod := loadTiny(t, wasm, wasmhost.ModuleConfig{})
	h := &countHost{}
	ce := callErr(t, mod.Inbound(context.Background(), h, false, []byte("x")))
	if ce.Kind != wasmhost.KindGuestStatus || ce.Status != abi.StatusBadArgument || h.n != 0 {
		t.Fatalf("text: %v, %d deliveries", ce, h.n)
	}
	if err := mod.Inbound(context.Background(), h, true, []byte("x")); err != nil || h.n != 1 {
		t.Fatalf("binary: %v, %d deliveries", err, h.n)
	}
}
