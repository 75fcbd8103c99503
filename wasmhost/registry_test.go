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
)

// countHost counts deliveries and remembers the last one.
type countHost struct {
	nullHost
	n    int
	last string
}

func (h *countHost) Deliver(_ bool, data []byte) error {
	h.n++
	h.last = string(data)
	return nil
}

// TestReplaceUnderTraffic swaps the module of a name back and forth while
// sockets keep calling it: no call may fail or be lost, a broken
// replacement is refused while the current module keeps serving, and the
// counters carry over the swaps.
func TestReplaceUnderTraffic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := wasmhost.NewRegistry(shared)
	defer reg.Close(ctx)
	identity, hostile := goModule(t, "identity"), goModule(t, "hostile")
	tr, err := reg.Set(ctx, "swap", identity, wasmhost.ModuleConfig{MaxInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Get("swap") != tr || strings.Join(reg.Names(), ",") != "swap" {
		t.Fatal("registry does not list the transcoder")
	}

	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		calls   atomic.Int64
		errs    = make(chan error, 16)
		perSock = make([]*countHost, 4)
	)
	for g := range perSock {
		h := &countHost{}
		perSock[g] = h
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(30 * time.Second)
			for i := 0; i < 100000 && !stop.Load() && time.Now().Before(deadline); i++ {
				msg := fmt.Sprintf("m%d", i)
				if err := tr.Inbound(ctx, h, false, []byte(msg)); err != nil {
					errs <- err
					return
				}
				if h.last != msg {
					errs <- fmt.Errorf("delivered %q, want %q", h.last, msg)
					return
				}
				calls.Add(1)
			}
		}()
	}
	for i := 0; i < 4; i++ {
		next := hostile
		if i%2 == 1 {
			next = identity
		}
		if err := reg.Replace(ctx, "swap", next); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			err := reg.Replace(ctx, "swap", []byte("\x00asm broken"))
			if !errors.Is(err, wasmhost.ErrInvalidModule) || !strings.Contains(err.Error(), "keeps serving") {
				t.Fatalf("broken replacement: err = %v", err)
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // let the last module serve a little
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var delivered int64
	for _, h := range perSock {
		delivered += int64(h.n)
	}
	st := tr.Stats()
	if delivered != calls.Load() || st.Calls != uint64(calls.Load()) || st.Failed() != 0 {
		t.Fatalf("calls %d, delivered %d, stats %+v", calls.Load(), delivered, st)
	}
	if tr.Swaps() != 4 {
		t.Fatalf("swaps = %d, want 4", tr.Swaps())
	}
}

func TestRegistrySetAndRemove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := wasmhost.NewRegistry(shared)
	if _, err := reg.Set(ctx, "bad", []byte("nope"), wasmhost.ModuleConfig{}); !errors.Is(err, wasmhost.ErrInvalidModule) {
		t.Fatalf("err = %v", err)
	}
	if reg.Get("bad") != nil || len(reg.Names()) != 0 {
		t.Fatal("a failed Set left a name behind")
	}
	if err := reg.Replace(ctx, "none", goModule(t, "identity")); !errors.Is(err, wasmhost.ErrNotFound) {
		t.Fatalf("replace of a missing name: %v", err)
	}
	tr, err := reg.Set(ctx, "t", goModule(t, "identity"), wasmhost.ModuleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Set on an existing name swaps with the new configuration.
	if _, err := reg.Set(ctx, "t", goModule(t, "identity"), wasmhost.ModuleConfig{MaxInstances: 1}); err != nil {
		t.Fatal(err)
	}
	if tr.Module().Config().MaxInstances != 1 || tr.Swaps() != 1 {
		t.Fatalf("config not applied: %+v, swaps %d", tr.Module().Config(), tr.Swaps())
	}
	if err := reg.Remove(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	var ce *wasmhost.CallError
	err = tr.Inbound(ctx, &nullHost{}, false, []byte("x"))
	if !errors.As(err, &ce) || ce.Kind != wasmhost.KindUnavailable || !errors.Is(err, wasmhost.ErrClosed) {
		t.Fatalf("call after Remove: %v", err)
	}
	if err := reg.Remove(ctx, "t"); !errors.Is(err, wasmhost.ErrNotFound) {
		t.Fatalf("second Remove: %v", err)
	}
}

// TestCloseWaitsForCalls closes a module while a call runs: Close returns
// only after the call has finished (and been counted), and later calls are
// refused.
func TestCloseWaitsForCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mod, err := shared.Load(ctx, "closing", goModule(t, "hostile"), hostileConfig)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		done <- mod.Inbound(ctx, &nullHost{}, false, []byte("loop"))
	}()
	<-started
	deadline := time.Now().Add(10 * time.Second)
	for mod.Stats().Calls == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if err := mod.Close(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with a short context: %v", err)
	}
	if err := mod.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := mod.Stats(); st.Failures[wasmhost.KindTimeout] != 1 {
		t.Fatalf("Close returned before the call finished: %+v", st)
	}
	if err := <-done; err == nil {
		t.Fatal("the looping call succeeded")
	}
	if err := mod.Inbound(ctx, &nullHost{}, false, []byte("x")); !errors.Is(err, wasmhost.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	mod, err := shared.Load(context.Background(), "cancel", goModule(t, "hostile"), wasmhost.ModuleConfig{CallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ce := callErr(t, mod.Inbound(ctx, &nullHost{}, false, []byte("ok")))
	if ce.Kind != wasmhost.KindCanceled {
		t.Fatalf("already canceled: %v", ce)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ce = callErr(t, mod.Inbound(ctx, &nullHost{}, false, []byte("loop")))
	if ce.Kind != wasmhost.KindCanceled {
		t.Fatalf("canceled during the call: %v", ce)
	}
}

// TestPoolBound keeps more sockets busy than the pool has instances: the
// extra calls wait, none fails, and no more instances than the bound exist.
func TestPoolBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mod, err := shared.Load(ctx, "bound", goModule(t, "identity"), wasmhost.ModuleConfig{MaxInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &nullHost{}
			for i := 0; i < 200; i++ {
				if err := mod.Outbound(ctx, h, true, []byte{byte(i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := mod.Stats(); st.InstancesCreated > 2 || st.Instances > 2 || st.Calls != 1600 {
		t.Fatalf("stats = %+v", st)
	}
}
