package wasmhost_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/harness"
	"github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// hostileConfig keeps the limits small so that each misbehaviour is cut
// off quickly.
var hostileConfig = wasmhost.ModuleConfig{
	CallTimeout:    500 * time.Millisecond,
	MaxMemoryPages: 256, // 16 MiB
	MaxEmitBytes:   1 << 20,
	MaxInstances:   4,
}

func callErr(t *testing.T, err error) *wasmhost.CallError {
	t.Helper()
	var ce *wasmhost.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *CallError", err, err)
	}
	return ce
}

// TestHostile shows that each misbehaviour fails only its call, with the
// right kind, close code 1011 and a short reason; that the counters move;
// that the instance is thrown away (or kept, for a guest status); and that
// the same socket's next call is served by a healthy instance.
func TestHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg     string
		kind    wasmhost.Kind
		discard bool
	}{
		{"loop", wasmhost.KindTimeout, true},
		{"recurse", wasmhost.KindTimeout, true},
		{"sleep", wasmhost.KindTimeout, true},
		{"bomb", wasmhost.KindMemoryLimit, true},
		{"trap", wasmhost.KindTrap, true},
		{"exit", wasmhost.KindTrap, true},
		{"badptr", wasmhost.KindBadPointer, true},
		{"flood", wasmhost.KindEmitLimit, true},
		{"panic", wasmhost.KindGuestStatus, false},
		{"error", wasmhost.KindGuestStatus, false},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			t.Parallel()
			cfg := hostileConfig
			if tc.kind != wasmhost.KindTimeout {
				// Only the timeouts need a short budget; the others end
				// by themselves, and must not be cut off by one on a
				// busy machine (the memory bomb takes most of a second
				// under -race).
				cfg.CallTimeout = 20 * time.Second
			}
			h := loadHarness(t, "hostile", cfg)
			s := h.NewSocket(wasmhost.SocketInfo{ID: "s-" + tc.msg})
			if err := s.Open(); err != nil {
				t.Fatal(err)
			}
			before := h.Module().Stats()
			ce := callErr(t, s.Inbound(false, []byte(tc.msg)))
			if ce.Kind != tc.kind {
				t.Fatalf("kind = %v, want %v (%v)", ce.Kind, tc.kind, ce)
			}
			if ce.CloseCode() != 1011 || len(ce.Reason()) > 123 || !strings.Contains(ce.Reason(), tc.kind.String()) {
				t.Fatalf("close = %d %q", ce.CloseCode(), ce.Reason())
			}
			if ce.Module != "harness" || ce.Func != "inbound" {
				t.Fatalf("error names %s.%s", ce.Module, ce.Func)
			}
			after := h.Module().Stats()
			if after.Failures[tc.kind] != before.Failures[tc.kind]+1 {
				t.Fatalf("failures[%v] = %d, want %d", tc.kind, after.Failures[tc.kind], before.Failures[tc.kind]+1)
			}
			wantDiscarded := before.InstancesDiscarded
			if tc.discard {
				wantDiscarded++
			}
			if after.InstancesDiscarded != wantDiscarded {
				t.Fatalf("discarded = %d, want %d", after.InstancesDiscarded, wantDiscarded)
			}
			// The socket is served again, by a new instance if the old
			// one was thrown away.
			if err := s.Inbound(false, []byte("ok")); err != nil {
				t.Fatal(err)
			}
			if got := h.Module().Stats(); tc.discard && got.InstancesCreated != before.InstancesCreated+1 {
				t.Fatalf("created = %d, want %d", got.InstancesCreated, before.InstancesCreated+1)
			}
		})
	}
}

// TestHostileConcurrent runs misbehaviours while other sockets of the same
// module keep calling it, and requires every one of their calls to
// succeed; for the ones that run until their budget stops them, some good
// calls must complete while the bad call is still running.
func TestHostileConcurrent(t *testing.T) {
	t.Parallel()
	h := loadHarness(t, "hostile", hostileConfig)
	for _, tc := range []struct {
		msg  string
		long bool
	}{{"loop", true}, {"sleep", true}, {"bomb", false}, {"trap", false}, {"badptr", false}, {"flood", false}} {
		msg := tc.msg
		hostileDone := make(chan error, 1)
		bad := h.NewSocket(wasmhost.SocketInfo{ID: "bad-" + msg})
		go func() { hostileDone <- bad.Inbound(false, []byte(msg)) }()

		var (
			wg         sync.WaitGroup
			okCalls    atomic.Int64
			overlapped atomic.Int64
			failures   = make(chan error, 64)
			finished   atomic.Bool
		)
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				s := h.NewSocket(wasmhost.SocketInfo{ID: fmt.Sprintf("good-%s-%d", msg, g)})
				deadline := time.Now().Add(5 * time.Second)
				for i := 0; i < 2000 && time.Now().Before(deadline) && !finished.Load(); i++ {
					if err := s.Inbound(false, []byte("ok")); err != nil {
						failures <- err
						return
					}
					okCalls.Add(1)
					select {
					case <-hostileDone:
						hostileDone <- nil // put back for the main goroutine (value checked below)
						finished.Store(true)
					default:
						overlapped.Add(1)
					}
				}
			}(g)
		}
		wg.Wait()
		close(failures)
		for err := range failures {
			t.Errorf("%s: a good call failed: %v", msg, err)
		}
		if tc.long && overlapped.Load() == 0 {
			t.Errorf("%s: no good call completed while the hostile call ran", msg)
		}
		select {
		case <-hostileDone:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the hostile call did not end", msg)
		}
	}
	st := h.Module().Stats()
	if st.InstancesDiscarded != 6 || st.Failed() != 6 {
		t.Fatalf("stats = %+v, want 6 discarded failures", st)
	}
}

func TestHostCalls(t *testing.T) {
	t.Parallel()
	h := loadHarness(t, "hostile", hostileConfig)
	s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"attrs", "timer", "badclose"} {
		if err := s.Inbound(false, []byte(m)); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	d := s.TakeDeliveries()
	if len(d) != 2 || string(d[0].Data) != "300 true s true false false" || string(d[1].Data) != "guest: bad argument" {
		t.Fatalf("deliveries = %v", d)
	}
	if v, _ := s.Attr("long"); len(v) != 300 {
		t.Fatalf("attr long = %q", v)
	}
	if _, ok := s.Attr("short"); ok {
		t.Fatal("attr short not deleted")
	}
	if got := s.Timers(); len(got) != 1 || got[7] != 5*time.Second {
		t.Fatalf("timers = %v, want 7 in 5s only", got)
	}
	if err := s.Advance(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := s.TakeDeliveries(); len(d) != 1 || string(d[0].Data) != "timer 7" {
		t.Fatalf("after the timer: %v", d)
	}
	if err := s.Inbound(false, []byte("close")); err != nil {
		t.Fatal(err)
	}
	if c := s.Closes(); len(c) != 1 || c[0] != (harness.CloseRequest{Code: 4000, Reason: "bye"}) {
		t.Fatalf("closes = %v", c)
	}
}

func TestGuestOutputLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mod, err := shared.Load(ctx, "printer", goModule(t, "hostile"), hostileConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	h := &nullHost{}
	for _, m := range []string{"print", "log"} {
		if err := mod.Inbound(ctx, h, false, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(logs.messages("printer"), "\n")
	for _, want := range []string{"guest: hostile stdout line 4", "guest: hostile stderr line 0", "guest: hostile log level 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q; it has:\n%s", want, got)
		}
	}
}

// tinyModule is tinyGuest with some exports changed.
func tinyModule(change func(m *wasmbuild.Module)) []byte {
	i32 := byte(wasmbuild.I32)
	one := wasmbuild.FuncType{Params: []byte{i32}, Results: []byte{i32}}
	two := wasmbuild.FuncType{Params: []byte{i32, i32}, Results: []byte{i32}}
	ret := func(v int32) []byte { return wasmbuild.I32Const(nil, v) }
	m := wasmbuild.Module{
		MemoryPages: 1,
		Funcs: []wasmbuild.Func{
			{Type: wasmbuild.FuncType{Results: []byte{i32}}, Code: ret(int32(abi.PackVersion(1, 0, 0))), Export: abi.ExportABIVersion},
			{Type: one, Code: ret(1024), Export: abi.ExportAlloc},
			{Type: one, Code: ret(0), Export: abi.ExportInit},
			{Type: one, Code: ret(0), Export: abi.ExportOpen},
			{Type: two, Code: ret(0), Export: abi.ExportInbound},
			{Type: two, Code: ret(0), Export: abi.ExportOutbound},
			{Type: two, Code: ret(0), Export: abi.ExportClose},
			{Type: one, Code: ret(0), Export: abi.ExportTimer},
		},
	}
	if change != nil {
		change(&m)
	}
	return m.Bytes()
}

func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	i32 := byte(wasmbuild.I32)
	tests := []struct {
		name string
		wasm []byte
		cfg  wasmhost.ModuleConfig
		want error
		text []string
	}{
		{"garbage", []byte("not wasm at all"), wasmhost.ModuleConfig{}, wasmhost.ErrInvalidModule, nil},
		{"abi 2.0.0", tinyModule(func(m *wasmbuild.Module) {
			m.Funcs[0].Code = wasmbuild.I32Const(nil, int32(abi.PackVersion(2, 0, 0)))
		}), wasmhost.ModuleConfig{}, wasmhost.ErrABIVersion, []string{"2.0.0", abi.VersionString(abi.Version)}},
		{"abi newer minor", tinyModule(func(m *wasmbuild.Module) {
			m.Funcs[0].Code = wasmbuild.I32Const(nil, int32(abi.PackVersion(abi.Major, abi.Minor+1, 0)))
		}), wasmhost.ModuleConfig{}, wasmhost.ErrABIVersion, []string{abi.VersionString(abi.PackVersion(abi.Major, abi.Minor+1, 0))}},
		{"missing export", tinyModule(func(m *wasmbuild.Module) { m.Funcs[7].Export = "" }), wasmhost.ModuleConfig{}, wasmhost.ErrInvalidModule, []string{abi.ExportTimer}},
		{"wrong signature", tinyModule(func(m *wasmbuild.Module) {
			m.Funcs[4].Type = wasmbuild.FuncType{Params: []byte{i32}, Results: []byte{i32}}
		}), wasmhost.ModuleConfig{}, wasmhost.ErrInvalidModule, []string{abi.ExportInbound}},
		{"no memory", tinyModule(func(m *wasmbuild.Module) { m.MemoryPages = 0 }), wasmhost.ModuleConfig{}, wasmhost.ErrInvalidModule, []string{"memory"}},
		{"foreign import", tinyModule(func(m *wasmbuild.Module) {
			m.Imports = []wasmbuild.Import{{Module: "env", Name: "f", Type: wasmbuild.FuncType{}}}
		}), wasmhost.ModuleConfig{}, wasmhost.ErrInvalidModule, []string{`"env"`}},
		{"unknown host function", tinyModule(func(m *wasmbuild.Module) {
			m.Imports = []wasmbuild.Import{{Module: abi.ImportModule, Name: "teleport", Type: wasmbuild.FuncType{}}}
		}), wasmhost.ModuleConfig{}, wasmhost.ErrInvalidModule, []string{"teleport"}},
		{"memory over the cap", tinyModule(func(m *wasmbuild.Module) { m.MemoryPages = 20 }), wasmhost.ModuleConfig{MaxMemoryPages: 10}, wasmhost.ErrInvalidModule, []string{"MaxMemoryPages"}},
		{"alloc out of range", tinyModule(func(m *wasmbuild.Module) {
			m.Funcs[1].Code = wasmbuild.I32Const(nil, -16)
		}), wasmhost.ModuleConfig{}, wasmhost.ErrInit, []string{"bad_pointer"}},
		{"init status", tinyModule(func(m *wasmbuild.Module) { m.Funcs[2].Code = wasmbuild.I32Const(nil, 9) }), wasmhost.ModuleConfig{}, wasmhost.ErrInit, []string{"status 9"}},
		{"bad config", tinyModule(nil), wasmhost.ModuleConfig{CallTimeout: -1}, wasmhost.ErrConfig, []string{"CallTimeout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod, err := shared.Load(context.Background(), tc.name, tc.wasm, tc.cfg)
			if err == nil {
				_ = mod.Close(context.Background())
				t.Fatal("loaded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, s := range tc.text {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestGoInitFailure(t *testing.T) {
	t.Parallel()
	cfg := hostileConfig
	cfg.GuestConfig = "fail-init"
	_, err := shared.Load(context.Background(), "fail-init", goModule(t, "hostile"), cfg)
	if !errors.Is(err, wasmhost.ErrInit) || !strings.Contains(err.Error(), "status 5") {
		t.Fatalf("err = %v", err)
	}
}

// TestBadPointers hands each host function an out-of-range pointer from a
// tiny module and expects KindBadPointer, never a host panic.
func TestBadPointers(t *testing.T) {
	t.Parallel()
	i32 := byte(wasmbuild.I32)
	calls := []struct {
		name   string
		params int
		args   []int32
	}{
		{abi.ImportWriteFrame, 3, []int32{0, -100, 200}},
		{abi.ImportDeliver, 3, []int32{0, 65530, 10}},
		{abi.ImportClose, 3, []int32{1000, 70000, 1}},
		{abi.ImportGetAttr, 4, []int32{-1, 4, 0, 10}},
		{abi.ImportSetAttr, 4, []int32{0, 1, 65535, 2}},
		{abi.ImportDeleteAttr, 2, []int32{65536, 1}},
		{abi.ImportLog, 3, []int32{1, 0, 65537}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			wasm := tinyModule(func(m *wasmbuild.Module) {
				params := make([]byte, c.params)
				for i := range params {
					params[i] = i32
				}
				m.Imports = []wasmbuild.Import{{Module: abi.ImportModule, Name: c.name, Type: wasmbuild.FuncType{Params: params, Results: []byte{i32}}}}
				var code []byte
				for _, a := range c.args {
					code = wasmbuild.I32Const(code, a)
				}
				code = append(code, 0x10, 0x00) // call import 0, return its result
				m.Funcs[4].Code = code
			})
			mod, err := shared.Load(context.Background(), "badptr-"+c.name, wasm, wasmhost.ModuleConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(context.Background())
			h := &nullHost{}
			ce := callErr(t, mod.Inbound(context.Background(), h, false, []byte("x")))
			if ce.Kind != wasmhost.KindBadPointer || !strings.Contains(ce.Detail, c.name) {
				t.Fatalf("err = %v, want bad_pointer in %s", ce, c.name)
			}
		})
	}
}
