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
			deadline := time.Now().Add(60 * time.Second)
			for i := 0; i < 10_000_000 && !stop.Load() && time.Now().Before(deadline); i++ {
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
	// served waits until the sockets have made more calls than n, so that
	// every module in turn serves traffic (else the test could pass with
	// no call made at all).
	served := func(n int64) {
		deadline := time.Now().Add(10 * time.Second)
		for calls.Load() <= n && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if calls.Load() <= n {
			t.Fatalf("no call went through in 10s (%d calls)", n)
		}
	}
	served(0)
	for i := 0; i < 4; i++ {
		next := hostile
		if i%2 == 1 {
			next = identity
		}
		if err := reg.Replace(ctx, "swap", next); err != nil {
			t.Fatal(err)
		}
		served(calls.Load())
		if i == 1 {
			err := reg.Replace(ctx, "swap", []byte("\x00asm broken"))
			if !errors.Is(err, wasmhost.ErrInvalidModule) || !strings.Contains(err.Error(), "keeps serving") {
				t.Fatalf("broken replacement: err = %v", err)
			}
		}
	}
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

// TestStatsNeverDecrease polls a transcoder's counters while it is swapped
// under traffic: they must only grow. (They used to dip while a swap
// waited for the old module's calls: the new module was counted, the old
// one not yet.)
func TestStatsNeverDecrease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := wasmhost.NewRegistry(shared)
	defer reg.Close(ctx)
	tiny := tinyGuest()
	tr, err := reg.Set(ctx, "monotonic", tiny, wasmhost.ModuleConfig{MaxInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	var (
		stop atomic.Bool
		wg   sync.WaitGroup
		dips = make(chan string, 1)
	)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &nullHost{}
			for i := 0; i < 1000000 && !stop.Load(); i++ {
				_ = tr.Inbound(ctx, h, false, []byte("m"))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var last uint64
		for i := 0; i < 10000000 && !stop.Load(); i++ {
			c := tr.Stats().Calls
			if c < last {
				select {
				case dips <- fmt.Sprintf("calls went from %d to %d", last, c):
				default:
				}
				return
			}
			last = c
		}
	}()
	for i := 0; i < 20; i++ {
		if err := reg.Replace(ctx, "monotonic", tiny); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	select {
	case d := <-dips:
		t.Fatal(d)
	default:
	}
}

// TestReplaceShortContext replaces a module while a call on it runs until
// its budget, with a context that ends first: the swap has happened (nil
// error, the new module serves), and the old module is still closed and
// counted once its call is over, not leaked.
func TestReplaceShortContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := wasmhost.NewRegistry(shared)
	defer reg.Close(ctx)
	hostile := goModule(t, "hostile")
	cfg := hostileConfig
	cfg.MaxInstances = 1
	tr, err := reg.Set(ctx, "short", hostile, cfg)
	if err != nil {
		t.Fatal(err)
	}
	old := tr.Module()
	done := make(chan error, 1)
	go func() { done <- tr.Inbound(ctx, &nullHost{}, false, []byte("loop")) }()
	deadline := time.Now().Add(10 * time.Second)
	for old.Stats().Idle != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // until the looping call holds the instance
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if err := reg.Replace(short, "short", hostile); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if tr.Module() == old {
		t.Fatal("the old module still serves")
	}
	if err := tr.Inbound(ctx, &nullHost{}, false, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if ce := callErr(t, <-done); ce.Kind != wasmhost.KindTimeout {
		t.Fatalf("the looping call: %v", ce)
	}
	for time.Now().Before(deadline) {
		if st := tr.Stats(); st.Failures[wasmhost.KindTimeout] == 1 && st.Instances == tr.Module().Stats().Instances {
			return // the old module closed (its instances are gone) and its failure is counted
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the old module was not closed: old %+v, transcoder %+v", old.Stats(), tr.Stats())
}
