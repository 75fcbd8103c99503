package wasmhost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/harness"
	"github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// Batches (ABI 1.1): InboundBatch and OutboundBatch through Go guests
// (which have the batch exports, from the SDK), through hand-written 1.1
// guests (the exact bytes the host writes, and guests that abuse the
// progress word) and through 1.0 guests (one call per message).

func loadWasm(t *testing.T, wasm []byte, cfg wasmhost.ModuleConfig) *harness.Harness {
	t.Helper()
	h, err := harness.Load(context.Background(), wasm, harness.Options{Runtime: shared, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func texts(ss ...string) []harness.Frame {
	out := make([]harness.Frame, len(ss))
	for i, s := range ss {
		out[i] = harness.Frame{Data: []byte(s)}
	}
	return out
}

func sameFrames(t *testing.T, what string, got, want []harness.Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d: %.200v", what, len(got), len(want), got)
	}
	for i := range want {
		if got[i].Binary != want[i].Binary || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("%s[%d] = %.60v, want %.60v", what, i, got[i], want[i])
		}
	}
}

// mixedBatch returns n messages: text and binary, an empty one, and (when
// big) one of 100 KB that does not fit a batch call of its own neighbours.
func mixedBatch(n int, big bool) []harness.Frame {
	msgs := make([]harness.Frame, n)
	for i := range msgs {
		switch {
		case big && i == n/2:
			msgs[i] = harness.Frame{Data: bytes.Repeat([]byte{'a' + byte(i%26)}, 100000)}
		case i%5 == 3:
			msgs[i] = harness.Frame{}
		case i%3 == 1:
			msgs[i] = harness.Frame{Binary: true, Data: []byte{byte(i), 0, 0xff}}
		default:
			msgs[i] = harness.Frame{Data: []byte(fmt.Sprintf("message %d", i))}
		}
	}
	return msgs
}

// TestBatchIdentity passes batches of several sizes through the Go
// identity guest, a 1.1 guest, in both directions: every message comes out
// once, in order, and a batch is one call in the counters.
func TestBatchIdentity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wasm func(*testing.T) []byte
	}{
		{"go-identity", func(t *testing.T) []byte { return goModule(t, "identity") }},
		{"tiny-1.0", func(*testing.T) []byte { return tinyGuest() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := loadWasm(t, tc.wasm(t), wasmhost.ModuleConfig{})
			s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
			if err := s.Open(); err != nil {
				t.Fatal(err)
			}
			var want []harness.Frame
			sizes := []int{1, 3, abi.MaxBatchCount, abi.MaxBatchCount + 1, 100}
			for _, n := range sizes {
				msgs := mixedBatch(n, n > 3)
				want = append(want, msgs...)
				if err := s.InboundBatch(msgs); err != nil {
					t.Fatalf("inbound batch of %d: %v", n, err)
				}
				if err := s.OutboundBatch(msgs); err != nil {
					t.Fatalf("outbound batch of %d: %v", n, err)
				}
			}
			if err := s.InboundBatch(nil); err != nil { // nothing to do
				t.Fatal(err)
			}
			sameFrames(t, "deliveries", s.Deliveries(), want)
			sameFrames(t, "frames", s.Frames(), want)
			st := h.Module().Stats()
			calls := uint64(1 + 2*len(sizes))
			if st.Calls != calls || st.BatchCalls != calls-1 || st.BatchMessages != 2*uint64(len(want)) || st.Failed() != 0 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// TestBatchFailureStops: the first failure ends the batch. The messages
// before it were handled, the ones after it were not, and the error names
// the message; a guest's error status keeps the instance, a trap or a
// timeout throws it away, and the socket is served again afterwards.
func TestBatchFailureStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg     string
		kind    wasmhost.Kind
		discard bool
	}{
		{"error", wasmhost.KindGuestStatus, false},
		{"panic", wasmhost.KindGuestStatus, false},
		{"trap", wasmhost.KindTrap, true},
		{"badptr", wasmhost.KindBadPointer, true},
		{"loop", wasmhost.KindTimeout, true},
		{"flood", wasmhost.KindEmitLimit, true},
	}
	for _, tc := range tests {
		t.Run(tc.msg, func(t *testing.T) {
			t.Parallel()
			cfg := hostileConfig
			if tc.kind != wasmhost.KindTimeout {
				cfg.CallTimeout = 20 * time.Second
			}
			h := loadHarness(t, "hostile", cfg)
			s := h.NewSocket(wasmhost.SocketInfo{ID: "s-" + tc.msg})
			before := h.Module().Stats()
			ce := callErr(t, s.InboundBatch(texts("one", "two", tc.msg, "four")))
			if ce.Kind != tc.kind || ce.Func != "inbound" || ce.Batch != 4 || ce.Message != 2 {
				t.Fatalf("err = %v (kind %v, func %s, message %d of %d)", ce, ce.Kind, ce.Func, ce.Message, ce.Batch)
			}
			if ce.CloseCode() != 1011 || !strings.Contains(ce.Error(), "message 2 of a batch of 4") {
				t.Fatalf("close %d, error %q", ce.CloseCode(), ce)
			}
			sameFrames(t, "deliveries", s.TakeDeliveries(), texts("one", "two"))
			after := h.Module().Stats()
			if after.Failures[tc.kind] != before.Failures[tc.kind]+1 || after.Calls != before.Calls+1 {
				t.Fatalf("stats before %+v, after %+v", before, after)
			}
			wantDiscarded := before.InstancesDiscarded
			if tc.discard {
				wantDiscarded++
			}
			if after.InstancesDiscarded != wantDiscarded {
				t.Fatalf("discarded = %d, want %d", after.InstancesDiscarded, wantDiscarded)
			}
			if err := s.InboundBatch(texts("again", "and again")); err != nil {
				t.Fatal(err)
			}
			sameFrames(t, "deliveries after", s.Deliveries(), texts("again", "and again"))
		})
	}
}

// TestBatchStopsAtClose: once a handler asked to close the socket, the
// rest of the batch is dropped, for 1.1 guests (the SDK stops) and 1.0
// guests (the host stops).
func TestBatchStopsAtClose(t *testing.T) {
	t.Parallel()
	t.Run("go-1.1", func(t *testing.T) {
		t.Parallel()
		h := loadHarness(t, "hostile", hostileConfig)
		s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
		if err := s.InboundBatch(texts("one", "close", "three")); err != nil {
			t.Fatal(err)
		}
		sameFrames(t, "deliveries", s.Deliveries(), texts("one"))
		if c := s.Closes(); len(c) != 1 || c[0].Code != 4000 {
			t.Fatalf("closes = %v", c)
		}
	})
	t.Run("tiny-1.0", func(t *testing.T) {
		t.Parallel()
		h := loadWasm(t, fallbackGuest(), wasmhost.ModuleConfig{})
		s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
		if err := s.InboundBatch(texts("one", "c", "three")); err != nil {
			t.Fatal(err)
		}
		sameFrames(t, "deliveries", s.Deliveries(), texts("one"))
		if c := s.Closes(); len(c) != 1 || c[0].Code != 4000 {
			t.Fatalf("closes = %v", c)
		}
	})
}

// TestBatchHandledCount: a batch reports how many messages were handled,
// so that the server can count the rest as dropped: all of them, up to
// and including the one that asked to close, or the ones before a failure.
func TestBatchHandledCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msgs := func(ss ...string) []wasmhost.Msg {
		out := make([]wasmhost.Msg, len(ss))
		for i, s := range ss {
			out[i] = wasmhost.Msg{Data: []byte(s)}
		}
		return out
	}
	goMod := loadTiny(t, goModule(t, "hostile"), hostileConfig)
	tiny := loadTiny(t, fallbackGuest(), wasmhost.ModuleConfig{})
	for _, tc := range []struct {
		name    string
		mod     *wasmhost.Module
		msgs    []wasmhost.Msg
		handled int
		failed  bool
	}{
		{"go all", goMod, msgs("a", "b", "c"), 3, false},
		{"go close second", goMod, msgs("one", "close", "three", "four"), 2, false},
		{"go close first", goMod, msgs("close", "two", "three"), 1, false},
		{"go close last", goMod, msgs("one", "two", "close"), 3, false},
		{"go error third", goMod, msgs("one", "two", "error", "four"), 2, true},
		{"1.0 close second", tiny, msgs("one", "c", "three"), 2, false},
		{"1.0 all", tiny, msgs("one", "two"), 2, false},
	} {
		n, err := tc.mod.InboundBatch(ctx, &nullHost{}, tc.msgs)
		if (err != nil) != tc.failed || n != tc.handled {
			t.Errorf("%s: handled %d, err %v; want %d, failed %v", tc.name, n, err, tc.handled, tc.failed)
		}
	}
}

// TestBatchFallback runs batches through 1.0 guests: one call per message
// on one instance, the first failure stops the batch with its index, and
// functions a 1.0 guest happens to export under the batch names are never
// called.
func TestBatchFallback(t *testing.T) {
	t.Parallel()
	h := loadWasm(t, fallbackGuest(), wasmhost.ModuleConfig{MaxInstances: 1})
	s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
	ce := callErr(t, s.InboundBatch(texts("one", "two", "", "four")))
	if ce.Kind != wasmhost.KindGuestStatus || ce.Status != 7 || ce.Message != 2 || ce.Batch != 4 {
		t.Fatalf("err = %v", ce)
	}
	sameFrames(t, "deliveries", s.Deliveries(), texts("one", "two"))
	if st := h.Module().Stats(); st.InstancesCreated != 1 || st.Calls != 1 || st.BatchMessages != 4 {
		t.Fatalf("stats = %+v", st)
	}

	// ABI 1.0 with functions named like the batch exports that trap.
	wasm := tinyModule(func(m *wasmbuild.Module) {
		two := wasmbuild.FuncType{Params: []byte{wasmbuild.I32, wasmbuild.I32}, Results: []byte{wasmbuild.I32}}
		m.Funcs = append(m.Funcs,
			wasmbuild.Func{Type: two, Code: []byte{0x00}, Export: abi.ExportInboundBatch},
			wasmbuild.Func{Type: two, Code: []byte{0x00}, Export: abi.ExportOutboundBatch})
	})
	h2 := loadWasm(t, wasm, wasmhost.ModuleConfig{})
	s2 := h2.NewSocket(wasmhost.SocketInfo{ID: "s2"})
	if err := s2.InboundBatch(texts("a", "b")); err != nil {
		t.Fatalf("a 1.0 guest's batch-named export was called: %v", err)
	}
	if err := s2.OutboundBatch(texts("a", "b")); err != nil {
		t.Fatalf("a 1.0 guest's batch-named export was called: %v", err)
	}
}

// TestBatchEncoding reads back, through a 1.1 guest that delivers its
// whole input, the exact bytes the host writes for each batch call: the
// encoding of abi.AppendBatch*, split at abi.MaxBatchCount messages and
// abi.MaxBatchBytes. A chunk of one message goes through the single
// export instead (which this guest forwards unchanged).
func TestBatchEncoding(t *testing.T) {
	t.Parallel()
	h := loadWasm(t, batchGuest(echoInput), wasmhost.ModuleConfig{})
	s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
	big := bytes.Repeat([]byte("b"), abi.MaxBatchBytes)
	var msgs []harness.Frame
	for i := 0; i < 40; i++ { // 32 + 8
		msgs = append(msgs, harness.Frame{Binary: i%2 == 1, Data: []byte(strings.Repeat("x", i))})
	}
	msgs = append(msgs,
		harness.Frame{Data: bytes.Repeat([]byte("m"), abi.MaxBatchBytes/2)}, // joins the 8 before it
		harness.Frame{Data: bytes.Repeat([]byte("n"), abi.MaxBatchBytes/2)}, // fits with neither neighbour: a single call
		harness.Frame{Data: big}, // over the bound: a single call
		harness.Frame{Data: nil}, // a batch of two
		harness.Frame{Binary: true, Data: nil})
	chunks := [][]harness.Frame{msgs[:32], msgs[32:41], msgs[41:42], msgs[42:43], msgs[43:]}
	for _, out := range []bool{false, true} {
		var err error
		if out {
			err = s.OutboundBatch(msgs)
		} else {
			err = s.InboundBatch(msgs)
		}
		if err != nil {
			t.Fatal(err)
		}
		got := s.TakeDeliveries()
		if out {
			got = s.TakeFrames()
		}
		if len(got) != len(chunks) {
			t.Fatalf("outbound %v: %d batch calls, want %d", out, len(got), len(chunks))
		}
		for i, c := range chunks {
			if len(c) == 1 {
				sameFrames(t, fmt.Sprintf("call %d", i), got[i:i+1], c)
				continue
			}
			want := abi.AppendBatchHeader(nil)
			for _, m := range c {
				fl := uint32(0)
				if m.Binary {
					fl = abi.FlagBinary
				}
				want = abi.AppendBatchMessage(want, fl, m.Data)
			}
			if !bytes.Equal(got[i].Data, want) {
				t.Fatalf("outbound %v: call %d wrote %d bytes %.80x, want %d bytes %.80x", out, i, len(got[i].Data), got[i].Data, len(want), want)
			}
		}
	}
}

// TestBatchPerMessageLimits: each message of a batch gets the budget and
// the emit cap of a single call, so a batch whose messages together take
// more than one call's budget, or emit more than one call's cap, passes,
// while one message over either still fails.
func TestBatchPerMessageLimits(t *testing.T) {
	t.Parallel()
	t.Run("emit", func(t *testing.T) {
		t.Parallel()
		h := loadHarness(t, "hostile", wasmhost.ModuleConfig{CallTimeout: 20 * time.Second, MaxEmitBytes: 1 << 20})
		s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
		if err := s.InboundBatch(texts("emit 700", "emit 700", "emit 700")); err != nil {
			t.Fatalf("three messages of 700 KiB each under a 1 MiB cap: %v", err)
		}
		if n := len(s.TakeFrames()); n != 3*11 {
			t.Fatalf("%d frames", n)
		}
		ce := callErr(t, s.InboundBatch(texts("emit 1", "emit 1100", "emit 1")))
		if ce.Kind != wasmhost.KindEmitLimit || ce.Message != 1 {
			t.Fatalf("err = %v", ce)
		}
	})
	t.Run("time", func(t *testing.T) {
		t.Parallel()
		// Four messages of 600 ms each under a budget of 2 s per call: the
		// batch takes 2.4 s in all, more than one call's budget, and each
		// message has 1.4 s to spare (this is not a timing assertion: only
		// a machine that stalls the call that long could fail it).
		h := loadHarness(t, "hostile", wasmhost.ModuleConfig{CallTimeout: 2 * time.Second})
		s := h.NewSocket(wasmhost.SocketInfo{ID: "s1"})
		if err := s.InboundBatch(texts("spin 600", "spin 600", "spin 600", "spin 600")); err != nil {
			t.Fatalf("four messages of 600 ms under a 2 s budget each: %v", err)
		}
		if n := len(s.Deliveries()); n != 4 {
			t.Fatalf("%d deliveries", n)
		}
	})
}

// TestBatchProgressAbuse: a 1.1 guest that ignores the progress word gets
// one call's limits for the whole batch; one that moves it backwards or
// past the batch gets at most the limits of as many calls as the batch has
// messages. Without that bound these guests would run (or emit) forever;
// callWithin is the hang guard.
func TestBatchProgressAbuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	msgs := []wasmhost.Msg{{Data: []byte("a")}, {Data: []byte("b")}, {Data: []byte("c")}}
	spinCfg := wasmhost.ModuleConfig{CallTimeout: 50 * time.Millisecond}
	emitCfg := wasmhost.ModuleConfig{MaxEmitBytes: 64 << 10}
	tests := []struct {
		name     string
		progress progressMode
		emit     bool
		cfg      wasmhost.ModuleConfig
		kind     wasmhost.Kind
	}{
		{"spin, no progress", progressNone, false, spinCfg, wasmhost.KindTimeout},
		{"spin, progress cycling", progressCycle, false, spinCfg, wasmhost.KindTimeout},
		{"spin, progress past the end", progressUnbounded, false, spinCfg, wasmhost.KindTimeout},
		{"emit, no progress", progressNone, true, emitCfg, wasmhost.KindEmitLimit},
		{"emit, progress cycling", progressCycle, true, emitCfg, wasmhost.KindEmitLimit},
		{"emit, progress past the end", progressUnbounded, true, emitCfg, wasmhost.KindEmitLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod := loadTiny(t, batchGuest(spinForever(tc.progress, tc.emit)), tc.cfg)
			h := &nullHost{}
			// Were the budget unbounded, the context would end the call
			// (KindCanceled) and the test would fail rather than hang.
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			err := callWithin(t, 30*time.Second, func() error { _, err := mod.InboundBatch(ctx, h, msgs); return err })
			ce := callErr(t, err)
			if ce.Kind != tc.kind || ce.Batch != len(msgs) || ce.Message >= len(msgs) || (tc.progress == progressNone && ce.Message != 0) {
				t.Fatalf("err = %v, want %v", ce, tc.kind)
			}
			// Each step forward of the progress word opens one more
			// message's worth of emit cap, and there are fewer steps than
			// messages.
			if limit := (ce.Message + 1) * mod.Config().MaxEmitBytes; h.delivered > limit {
				t.Fatalf("delivered %d bytes, more than %d", h.delivered, limit)
			}
		})
	}
}

// TestBatchHostileConcurrent: a batch that loops until its budget stops it
// costs only its own socket; batches of other sockets of the module keep
// succeeding meanwhile.
func TestBatchHostileConcurrent(t *testing.T) {
	t.Parallel()
	h := loadHarness(t, "hostile", hostileConfig)
	bad := h.NewSocket(wasmhost.SocketInfo{ID: "bad"})
	badDone := make(chan error, 1)
	go func() { badDone <- bad.InboundBatch(texts("ok", "loop", "ok")) }()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		finished = make(chan struct{})
	)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := h.NewSocket(wasmhost.SocketInfo{ID: fmt.Sprintf("good-%d", g)})
			deadline := time.Now().Add(10 * time.Second)
			for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
				if err := s.InboundBatch(texts("x", "y", "z")); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					return
				}
				select {
				case <-finished:
					return
				default:
				}
			}
		}(g)
	}
	var err error
	select {
	case err = <-badDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the hostile batch did not end")
	}
	close(finished)
	wg.Wait()
	if ce := callErr(t, err); ce.Kind != wasmhost.KindTimeout || ce.Message != 1 {
		t.Fatalf("hostile batch: %v", ce)
	}
	for _, f := range failures {
		t.Errorf("a good batch failed: %v", f)
	}
}

// TestBatchLoadRefuses: the batch exports come as a pair with the right
// signature, and a guest that declares 1.1 must have them.
func TestBatchLoadRefuses(t *testing.T) {
	t.Parallel()
	i32 := byte(wasmbuild.I32)
	two := wasmbuild.FuncType{Params: []byte{i32, i32}, Results: []byte{i32}}
	ret0 := wasmbuild.I32Const(nil, 0)
	v11 := wasmbuild.I32Const(nil, int32(abi.PackVersion(1, 1, 0)))
	tests := []struct {
		name   string
		change func(m *wasmbuild.Module)
		want   error
		text   string
	}{
		{"1.1 without batch exports", func(m *wasmbuild.Module) { m.Funcs[0].Code = v11 }, wasmhost.ErrInvalidModule, abi.ExportInboundBatch},
		{"only one", func(m *wasmbuild.Module) {
			m.Funcs = append(m.Funcs, wasmbuild.Func{Type: two, Code: ret0, Export: abi.ExportInboundBatch})
		}, wasmhost.ErrInvalidModule, "only one"},
		{"wrong signature", func(m *wasmbuild.Module) {
			m.Funcs = append(m.Funcs,
				wasmbuild.Func{Type: two, Code: ret0, Export: abi.ExportInboundBatch},
				wasmbuild.Func{Type: wasmbuild.FuncType{Params: []byte{i32}, Results: []byte{i32}}, Code: ret0, Export: abi.ExportOutboundBatch})
		}, wasmhost.ErrInvalidModule, abi.ExportOutboundBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mod, err := shared.Load(context.Background(), tc.name, tinyModule(tc.change), wasmhost.ModuleConfig{})
			if err == nil {
				_ = mod.Close(context.Background())
				t.Fatal("loaded")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.want, tc.text)
			}
		})
	}
}

// TestBatchRegistry: the Transcoder handle batches on its current module,
// and its counters carry the batch counts over a swap.
func TestBatchRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := wasmhost.NewRegistry(shared)
	defer reg.Close(ctx)
	tr, err := reg.Set(ctx, "batch", goModule(t, "identity"), wasmhost.ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h := &countHost{}
	msgs := []wasmhost.Msg{{Data: []byte("a")}, {Data: []byte("b")}}
	if n, err := tr.InboundBatch(ctx, h, msgs); err != nil || n != 2 || h.n != 2 || h.last != "b" {
		t.Fatalf("err %v, handled %d, delivered %d, last %q", err, n, h.n, h.last)
	}
	if err := reg.Replace(ctx, "batch", tinyGuest()); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.InboundBatch(ctx, h, msgs); err != nil || n != 2 || h.n != 4 {
		t.Fatalf("after the swap to a 1.0 guest: err %v, handled %d, delivered %d", err, n, h.n)
	}
	if n, err := tr.OutboundBatch(ctx, h, msgs); err != nil || n != 2 || h.frames != 2 {
		t.Fatalf("outbound: err %v, handled %d, frames %d bytes", err, n, h.frames)
	}
	if st := tr.Stats(); st.BatchCalls != 3 || st.BatchMessages != 6 || st.Calls != 3 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestBatchNoAllocs: a batch call allocates nothing on the host, through
// the batch export of a 1.1 guest and through the fallback of a 1.0 guest.
func TestBatchNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go module")
	}
	ctx := context.Background()
	msgs := make([]wasmhost.Msg, 16)
	for i := range msgs {
		msgs[i] = wasmhost.Msg{Binary: i%2 == 0, Data: msg100}
	}
	for _, g := range []struct {
		name string
		wasm []byte
	}{{"go-identity", goModule(t, "identity")}, {"tiny-1.0", tinyGuest()}} {
		mod, err := shared.Load(ctx, "allocs-"+g.name, g.wasm, wasmhost.ModuleConfig{MaxInstances: 1})
		if err != nil {
			t.Fatal(err)
		}
		h := &nullHost{}
		for _, call := range []func(context.Context, wasmhost.Host, []wasmhost.Msg) (int, error){mod.InboundBatch, mod.OutboundBatch} {
			if _, err := call(ctx, h, msgs); err != nil { // warm: the input buffer
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(200, func() { _, _ = call(ctx, h, msgs) }); n != 0 {
				t.Errorf("%s: %v allocations per batch", g.name, n)
			}
		}
		_ = mod.Close(ctx)
	}
}

// Hand-written guests.

// echoInput is the batch export body that hands its whole input back to
// the host as one binary message (deliver for inbound, write_frame for
// outbound).
func echoInput(deliver, _, _ byte) []byte {
	// call deliver(FlagBinary, 1024, len)
	return []byte{0x41, 0x01, 0x41, 0x80, 0x08, 0x20, 0x01, 0x10, deliver}
}

type progressMode int

const (
	progressNone      progressMode = iota // never written
	progressCycle                         // 0, 1, ..., count-1, 0, ...
	progressUnbounded                     // 0, 1, 2, ... past count
)

// spinForever returns a batch export body that loops forever, changing the
// batch's progress word every iteration as mode says, and, with emit,
// delivering 1 KiB every iteration.
func spinForever(mode progressMode, emit bool) func(deliver, _, _ byte) []byte {
	return func(deliver, _, _ byte) []byte {
		code := []byte{0x03, 0x40} // loop
		if emit {
			// deliver(FlagBinary, 1024, 1024); drop
			code = append(code, 0x41, 0x01, 0x41, 0x80, 0x08, 0x41, 0x80, 0x08, 0x10, deliver, 0x1a)
		}
		if mode != progressNone {
			// mem[1024] = mem[1024] + 1 (% count)
			code = append(code, 0x41, 0x80, 0x08, 0x41, 0x80, 0x08, 0x28, 0x02, 0x00, 0x41, 0x01, 0x6a)
			if mode == progressCycle {
				code = append(code, 0x20, 0x00, 0x70) // local.get 0 (count); i32.rem_u
			}
			code = append(code, 0x36, 0x02, 0x00)
		}
		return append(code, 0x0c, 0x00, 0x0b, 0x00) // br 0; end; unreachable
	}
}

// batchGuest is an ABI 1.1 guest: the tiny identity guest plus batch
// exports whose body code returns (imports: 0 deliver, 1 write_frame,
// 2 close). For the outbound export, code gets write_frame as its deliver.
func batchGuest(code func(deliver, writeFrame, closeFn byte) []byte) []byte {
	i32 := byte(wasmbuild.I32)
	two := wasmbuild.FuncType{Params: []byte{i32, i32}, Results: []byte{i32}}
	return tinyModule(func(m *wasmbuild.Module) {
		m.MemoryPages = 4
		m.Imports = tinyImports()
		m.Funcs[0].Code = wasmbuild.I32Const(nil, int32(abi.PackVersion(1, 1, 0)))
		m.Funcs[4].Code = forward(0)
		m.Funcs[5].Code = forward(1)
		m.Funcs = append(m.Funcs,
			wasmbuild.Func{Type: two, Code: code(0, 1, 2), Export: abi.ExportInboundBatch},
			wasmbuild.Func{Type: two, Code: code(1, 1, 2), Export: abi.ExportOutboundBatch})
	})
}

// fallbackGuest is an ABI 1.0 guest whose inbound export, by message
// length, returns status 7 (empty message), closes the socket with 4000
// (one byte), or delivers the message (longer ones).
func fallbackGuest() []byte {
	return tinyModule(func(m *wasmbuild.Module) {
		m.MemoryPages = 4
		m.Imports = tinyImports()
		code := []byte{
			0x20, 0x01, 0x45, 0x04, 0x40, 0x41, 0x07, 0x0f, 0x0b, // if len == 0 { return 7 }
			0x20, 0x01, 0x41, 0x01, 0x46, 0x04, 0x40, // if len == 1 {
			0x41, 0xa0, 0x1f, 0x41, 0x80, 0x08, 0x41, 0x00, 0x10, 0x02, 0x0f, // return close(4000, 1024, 0) }
			0x0b,
		}
		m.Funcs[4].Code = append(code, forward(0)...)
		m.Funcs[5].Code = forward(1)
	})
}

func tinyImports() []wasmbuild.Import {
	i32 := byte(wasmbuild.I32)
	three := wasmbuild.FuncType{Params: []byte{i32, i32, i32}, Results: []byte{i32}}
	return []wasmbuild.Import{
		{Module: abi.ImportModule, Name: abi.ImportDeliver, Type: three},
		{Module: abi.ImportModule, Name: abi.ImportWriteFrame, Type: three},
		{Module: abi.ImportModule, Name: abi.ImportClose, Type: three},
	}
}

// forward(imp) is the body of an export (flags, len) that calls import imp
// with (flags, 1024, len) and returns its status.
func forward(imp byte) []byte {
	return []byte{0x20, 0x00, 0x41, 0x80, 0x08, 0x20, 0x01, 0x10, imp}
}
