package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// Registry maps transcoder names to their current modules and swaps a
// module for a new one without dropping sockets. Safe for concurrent use.
//
// Sockets keep no state in instances (the guest keeps it in socket
// attributes), so any version of a module can serve any socket: after a
// swap the next call of every socket goes to the new module, and the old
// one is closed once its calls in flight are done.
type Registry struct {
	rt *Runtime
	mu sync.Mutex
	ts map[string]*Transcoder
}

// NewRegistry returns an empty registry that loads modules into rt.
func NewRegistry(rt *Runtime) *Registry {
	return &Registry{rt: rt, ts: make(map[string]*Transcoder)}
}

// Transcoder is a stable handle on the current module of a name: routes
// keep the handle, and Replace changes what it calls. Its call methods are
// those of Module.
type Transcoder struct {
	name    string
	cur     atomic.Pointer[Module]
	swapMu  sync.Mutex // serialises Set, Replace and Remove of this name
	swaps   atomic.Uint64
	removed atomic.Bool

	// statsMu orders swaps against Stats, so that a module's counters are
	// summed exactly once at any time: as the current module, as one
	// retiring (swapped out, its calls in flight finishing) or as part of
	// retired.
	statsMu  sync.Mutex
	retiring []*Module
	retired  ModuleStats // counters of modules swapped out and closed
}

// Set loads wasm under name with cfg. If name exists its module is swapped
// for the new one (see Replace); otherwise the name is added. On error
// nothing changes.
func (r *Registry) Set(ctx context.Context, name string, wasm []byte, cfg ModuleConfig) (*Transcoder, error) {
	for {
		r.mu.Lock()
		t, ok := r.ts[name]
		if !ok {
			break // with r.mu held
		}
		r.mu.Unlock()
		err := r.swap(ctx, t, wasm, &cfg)
		if errors.Is(err, errGone) {
			continue // removed meanwhile (a concurrent first Set failed, or Remove): add it anew
		}
		return t, err
	}
	t := &Transcoder{name: name}
	t.swapMu.Lock() // held until the first module is in place
	r.ts[name] = t
	r.mu.Unlock()
	m, err := r.rt.Load(ctx, name, wasm, cfg)
	if err != nil {
		r.mu.Lock()
		delete(r.ts, name)
		r.mu.Unlock()
		t.removed.Store(true)
		t.swapMu.Unlock()
		return nil, err
	}
	t.cur.Store(m)
	t.swapMu.Unlock()
	return t, nil
}

// Replace compiles and validates wasm with the configuration of the module
// it replaces. On success new calls go to it and the old module is closed
// once its calls in flight are done (Replace waits for that, or for ctx,
// and returns nil either way: the new module is serving); on failure the
// old module keeps serving and the error says why.
func (r *Registry) Replace(ctx context.Context, name string, wasm []byte) error {
	t := r.Get(name)
	if t == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return r.swap(ctx, t, wasm, nil)
}

// errGone is what swap returns for a transcoder removed from the registry.
var errGone = fmt.Errorf("%w: removed", ErrNotFound)

func (r *Registry) swap(ctx context.Context, t *Transcoder, wasm []byte, cfg *ModuleConfig) error {
	t.swapMu.Lock()
	defer t.swapMu.Unlock()
	old := t.cur.Load()
	if t.removed.Load() || old == nil {
		return fmt.Errorf("%w: %q", errGone, t.name)
	}
	c := old.Config()
	if cfg != nil {
		c = *cfg
	}
	m, err := r.rt.Load(ctx, t.name, wasm, c)
	if err != nil {
		return fmt.Errorf("wasmhost: replace %q (the current module keeps serving): %w", t.name, err)
	}
	t.statsMu.Lock()
	t.retiring = append(t.retiring, old)
	t.cur.Store(m)
	t.statsMu.Unlock()
	t.swaps.Add(1)
	t.retire(ctx, old)
	return nil
}

// retire closes a swapped-out module and folds its counters into the
// transcoder's. The swap has succeeded whatever happens here: if ctx ends
// before the old module's calls in flight do, it finishes closing (and is
// folded) on its own.
func (t *Transcoder) retire(ctx context.Context, old *Module) {
	if old.Close(ctx) == nil {
		t.fold(old)
		return
	}
	go func() {
		<-old.closed
		t.fold(old)
	}()
}

func (t *Transcoder) fold(old *Module) {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	for i, m := range t.retiring {
		if m == old {
			t.retiring = append(t.retiring[:i], t.retiring[i+1:]...)
			break
		}
	}
	addCounters(&t.retired, old.Stats())
}

// addCounters adds the counters of s (not its instance gauges) to sum.
func addCounters(sum *ModuleStats, s ModuleStats) {
	sum.Calls += s.Calls
	sum.BatchCalls += s.BatchCalls
	sum.BatchMessages += s.BatchMessages
	for i := range s.Failures {
		sum.Failures[i] += s.Failures[i]
	}
	sum.InstancesCreated += s.InstancesCreated
	sum.InstancesDiscarded += s.InstancesDiscarded
}

// Get returns the transcoder of name, or nil.
func (r *Registry) Get(name string) *Transcoder {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.ts[name]
	if t == nil || t.cur.Load() == nil {
		return nil
	}
	return t
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.ts))
	for n, t := range r.ts {
		if t.cur.Load() != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Remove unregisters name and closes its module once its calls in flight
// are done. Later calls through its handle fail with KindUnavailable.
func (r *Registry) Remove(ctx context.Context, name string) error {
	r.mu.Lock()
	t := r.ts[name]
	delete(r.ts, name)
	r.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	t.swapMu.Lock()
	defer t.swapMu.Unlock()
	t.removed.Store(true)
	if m := t.cur.Load(); m != nil {
		return m.Close(ctx)
	}
	return nil
}

// Close removes and closes every transcoder.
func (r *Registry) Close(ctx context.Context) error {
	var errs []error
	for _, n := range r.Names() {
		if err := r.Remove(ctx, n); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Name returns the transcoder's name.
func (t *Transcoder) Name() string { return t.name }

// Module returns the module serving calls now.
func (t *Transcoder) Module() *Module { return t.cur.Load() }

// Swaps returns how many times the module was replaced.
func (t *Transcoder) Swaps() uint64 { return t.swaps.Load() }

// Stats returns the counters of the current module plus those of every
// module it replaced, so they only ever grow (also across a swap). The
// instance gauges count the current module's instances plus those of
// replaced modules still finishing their calls; Idle is the current
// module's.
func (t *Transcoder) Stats() ModuleStats {
	t.statsMu.Lock()
	defer t.statsMu.Unlock()
	var s ModuleStats
	if m := t.cur.Load(); m != nil {
		s = m.Stats()
	}
	for _, m := range t.retiring {
		r := m.Stats()
		addCounters(&s, r)
		s.Instances += r.Instances
	}
	addCounters(&s, t.retired)
	return s
}

// acquire returns the current module, held against closing. A module being
// swapped out refuses, and the next load sees its successor; the loop is
// bounded because each retry follows a completed swap.
func (t *Transcoder) acquire() *Module {
	for i := 0; i < 16; i++ {
		m := t.cur.Load()
		if m == nil || t.removed.Load() {
			return nil
		}
		if m.acquire() {
			return m
		}
	}
	return nil
}

func (t *Transcoder) call(ctx context.Context, h Host, fn fnID, in callIn) error {
	_, err := t.callN(ctx, h, fn, in)
	return err
}

func (t *Transcoder) callN(ctx context.Context, h Host, fn fnID, in callIn) (int, error) {
	m := t.acquire()
	if m == nil {
		return 0, &CallError{Module: t.name, Func: fnNames[fn], Kind: KindUnavailable, Err: ErrClosed, Batch: len(in.msgs)}
	}
	defer m.release()
	return m.do(ctx, h, fn, in)
}

// Open is Module.Open on the current module.
func (t *Transcoder) Open(ctx context.Context, h Host, info SocketInfo) error {
	return t.call(ctx, h, fnOpen, callIn{info: &info})
}

// Inbound is Module.Inbound on the current module.
func (t *Transcoder) Inbound(ctx context.Context, h Host, binary bool, data []byte) error {
	return t.call(ctx, h, fnInbound, callIn{arg: flags(binary), data: data})
}

// Outbound is Module.Outbound on the current module.
func (t *Transcoder) Outbound(ctx context.Context, h Host, binary bool, data []byte) error {
	return t.call(ctx, h, fnOutbound, callIn{arg: flags(binary), data: data})
}

// Closed is Module.Closed on the current module.
func (t *Transcoder) Closed(ctx context.Context, h Host, code uint16, reason string) error {
	return t.call(ctx, h, fnClose, callIn{arg: uint32(code), text: reason})
}

// Timer is Module.Timer on the current module.
func (t *Transcoder) Timer(ctx context.Context, h Host, id uint32) error {
	return t.call(ctx, h, fnTimer, callIn{arg: id})
}
