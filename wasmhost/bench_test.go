package wasmhost_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// nullHost is a Host that keeps nothing, so that a benchmark measures the
// transcoder path and not the recording.
type nullHost struct {
	frames, delivered int
}

func (h *nullHost) WriteFrame(_ bool, data []byte) error { h.frames += len(data); return nil }
func (h *nullHost) Deliver(_ bool, data []byte) error    { h.delivered += len(data); return nil }
func (h *nullHost) Close(uint16, string)                 {}
func (h *nullHost) Attr(string) ([]byte, bool)           { return nil, false }
func (h *nullHost) SetAttr(string, []byte)               {}
func (h *nullHost) ArmTimer(uint32, time.Duration)       {}

// tinyGuest is an identity transcoder written directly in Wasm: no Go
// runtime, a fixed input buffer at address 1024. It is the floor for what
// a call through the ABI can cost. It declares ABI 1.0 (no batch
// exports), so batches reach it one message per call.
func tinyGuest() []byte {
	i32 := byte(wasmbuild.I32)
	one := wasmbuild.FuncType{Params: []byte{i32}, Results: []byte{i32}}
	two := wasmbuild.FuncType{Params: []byte{i32, i32}, Results: []byte{i32}}
	ret := func(v int32) []byte { return wasmbuild.I32Const(nil, v) }
	// forward(flags, len) calls import 0 or 1 with (flags, 1024, len).
	forward := func(imp byte) []byte {
		return []byte{0x20, 0x00, 0x41, 0x80, 0x08, 0x20, 0x01, 0x10, imp}
	}
	m := wasmbuild.Module{
		MemoryPages: 2,
		Imports: []wasmbuild.Import{
			{Module: abi.ImportModule, Name: abi.ImportDeliver, Type: wasmbuild.FuncType{Params: []byte{i32, i32, i32}, Results: []byte{i32}}},
			{Module: abi.ImportModule, Name: abi.ImportWriteFrame, Type: wasmbuild.FuncType{Params: []byte{i32, i32, i32}, Results: []byte{i32}}},
		},
		Funcs: []wasmbuild.Func{
			{Type: wasmbuild.FuncType{Results: []byte{i32}}, Code: ret(int32(abi.PackVersion(1, 0, 0))), Export: abi.ExportABIVersion},
			{Type: one, Code: ret(1024), Export: abi.ExportAlloc},
			{Type: one, Code: ret(0), Export: abi.ExportInit},
			{Type: one, Code: ret(0), Export: abi.ExportOpen},
			{Type: two, Code: forward(0), Export: abi.ExportInbound},
			{Type: two, Code: forward(1), Export: abi.ExportOutbound},
			{Type: two, Code: ret(0), Export: abi.ExportClose},
			{Type: one, Code: ret(0), Export: abi.ExportTimer},
		},
	}
	return m.Bytes()
}

// attrHost is nullHost with an attribute store, for transcoders that keep
// socket state (socketio). Lookups allocate nothing.
type attrHost struct {
	nullHost
	attrs map[string][]byte
}

func (h *attrHost) Attr(k string) ([]byte, bool) { v, ok := h.attrs[k]; return v, ok }
func (h *attrHost) SetAttr(k string, v []byte) {
	if v == nil {
		delete(h.attrs, k)
		return
	}
	h.attrs[k] = append(h.attrs[k][:0], v...)
}

var msg100 = []byte("0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789")

// BenchmarkCall measures one Inbound and one Outbound call of 100 B through
// the Go identity transcoder, the tiny Wasm guest, and, as the reference,
// a plain Go function doing the same copies in and out.
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	b.Run("reference=go-copy", func(b *testing.B) {
		in := make([]byte, 4096)
		h := &nullHost{}
		deliver := h.Deliver
		b.SetBytes(int64(len(msg100)))
		b.ReportAllocs()
		for b.Loop() {
			n := copy(in, msg100)
			_ = deliver(false, in[:n])
		}
	})
	for _, g := range []struct {
		name string
		wasm func(b *testing.B) []byte
	}{
		{"guest=tiny-wasm", func(*testing.B) []byte { return tinyGuest() }},
		{"guest=go-identity", func(b *testing.B) []byte { return goModule(b, "identity") }},
	} {
		mod, err := shared.Load(ctx, g.name, g.wasm(b), wasmhost.ModuleConfig{MaxInstances: 1})
		if err != nil {
			b.Fatal(err)
		}
		h := &nullHost{}
		for _, dir := range []string{"inbound", "outbound"} {
			call := mod.Inbound
			if dir == "outbound" {
				call = mod.Outbound
			}
			b.Run(g.name+"/"+dir, func(b *testing.B) {
				b.SetBytes(int64(len(msg100)))
				b.ReportAllocs()
				for b.Loop() {
					if err := call(ctx, h, false, msg100); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		_ = mod.Close(ctx)
	}

	// The socketio transcoder on an open EIO=4 socket: a 100 B event in
	// (decoded to the listener JSON) and a 100 B listener event out
	// (encoded as a Socket.IO EVENT packet).
	mod, err := shared.Load(ctx, "socketio", goModule(b, "socketio"), wasmhost.ModuleConfig{MaxInstances: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer mod.Close(ctx)
	h := &attrHost{attrs: map[string][]byte{}}
	if err := mod.Open(ctx, h, wasmhost.SocketInfo{ID: "b", RawQuery: "EIO=4&transport=websocket"}); err != nil {
		b.Fatal(err)
	}
	if err := mod.Inbound(ctx, h, false, []byte("40")); err != nil {
		b.Fatal(err)
	}
	event := []byte(`42["chat","` + string(msg100[:86]) + `"]`)
	listenerEvent := []byte(`{"event":"chat","args":["` + string(msg100[:69]) + `"]}`)
	for _, c := range []struct {
		dir  string
		data []byte
		call func(context.Context, wasmhost.Host, bool, []byte) error
	}{{"inbound", event, mod.Inbound}, {"outbound", listenerEvent, mod.Outbound}} {
		b.Run("guest=go-socketio/"+c.dir, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.call(ctx, h, false, c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBatch measures InboundBatch and OutboundBatch of n messages of
// 100 B through the Go identity guest (an ABI 1.1 guest: one guest call
// per batch) and, for comparison, the tiny Wasm guest (ABI 1.0: one guest
// call per message, on one instance checkout). ns/op is per batch; the
// metrics are per message: ns/msg for the batch, single-ns/msg for the
// same messages passed one Inbound (Outbound) call each right after, in
// the same run, and x-single, their ratio.
func BenchmarkBatch(b *testing.B) {
	ctx := context.Background()
	for _, g := range []struct {
		name string
		wasm func(b *testing.B) []byte
	}{
		{"guest=go-identity", func(b *testing.B) []byte { return goModule(b, "identity") }},
		{"guest=tiny-wasm-1.0", func(*testing.B) []byte { return tinyGuest() }},
	} {
		mod, err := shared.Load(ctx, g.name, g.wasm(b), wasmhost.ModuleConfig{MaxInstances: 1})
		if err != nil {
			b.Fatal(err)
		}
		h := &nullHost{}
		for _, dir := range []string{"inbound", "outbound"} {
			batch, single := mod.InboundBatch, mod.Inbound
			if dir == "outbound" {
				batch, single = mod.OutboundBatch, mod.Outbound
			}
			for _, n := range []int{1, 4, 16} {
				msgs := make([]wasmhost.Msg, n)
				for i := range msgs {
					msgs[i] = wasmhost.Msg{Data: msg100}
				}
				b.Run(fmt.Sprintf("%s/%s/n=%d", g.name, dir, n), func(b *testing.B) {
					b.SetBytes(int64(n * len(msg100)))
					b.ReportAllocs()
					for b.Loop() {
						if _, err := batch(ctx, h, msgs); err != nil {
							b.Fatal(err)
						}
					}
					perMsg := float64(b.Elapsed().Nanoseconds()) / float64(b.N*n)
					// The same messages one call each, timed outside the
					// benchmark's own clock (bounded: at most 200,000).
					calls := min(b.N*n, 200000)
					start := time.Now()
					for i := 0; i < calls; i++ {
						if err := single(ctx, h, false, msg100); err != nil {
							b.Fatal(err)
						}
					}
					singlePerMsg := float64(time.Since(start).Nanoseconds()) / float64(calls)
					b.ReportMetric(perMsg, "ns/msg")
					b.ReportMetric(singlePerMsg, "single-ns/msg")
					b.ReportMetric(perMsg/singlePerMsg, "x-single")
				})
			}
		}
		_ = mod.Close(ctx)
	}
}

// BenchmarkLoadWarm measures Load of the Go identity module when its
// compiled code is already in the runtime: instrumentation, the cache
// lookup and the first instance. Instance creation alone is
// BenchmarkNewInstance (internal_bench_test.go).
func BenchmarkLoadWarm(b *testing.B) {
	ctx := context.Background()
	wasm := goModule(b, "identity")
	b.ReportAllocs()
	for b.Loop() {
		mod, err := shared.Load(ctx, "inst", wasm, wasmhost.ModuleConfig{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = mod.Close(ctx)
		b.StartTimer()
	}
}

// BenchmarkCompile measures compiling the Go identity module with no cache
// and with a warm compilation cache directory (the restart case). Load
// also starts one instance; the instantiate benchmark gives that share.
func BenchmarkCompile(b *testing.B) {
	ctx := context.Background()
	wasm := goModule(b, "identity")
	b.Run("cache=none", func(b *testing.B) {
		for b.Loop() {
			rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := rt.Load(ctx, "c", wasm, wasmhost.ModuleConfig{}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = rt.Close(ctx)
			b.StartTimer()
		}
	})
	b.Run("cache=dir-warm", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "cache")
		warm, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := warm.Load(ctx, "c", wasm, wasmhost.ModuleConfig{}); err != nil {
			b.Fatal(err)
		}
		_ = warm.Close(ctx)
		for b.Loop() {
			rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{CacheDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := rt.Load(ctx, "c", wasm, wasmhost.ModuleConfig{}); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = rt.Close(ctx)
			b.StartTimer()
		}
	})
}
