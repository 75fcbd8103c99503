package wasmhost

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"

	"github.com/edgews/edgews/wasmhost/abi"
)

// Module is a loaded transcoder: compiled code plus a pool of instances
// that serve calls for any number of sockets concurrently. Calls for one
// socket must not overlap (the server serialises them); calls for
// different sockets may.
type Module struct {
	rt       *Runtime
	wz       wazero.Runtime // the runtime it was compiled in
	name     string
	cfg      ModuleConfig
	compiled wazero.CompiledModule
	log      *slog.Logger
	guestLog *lineLimiter
	pool     pool

	calls     atomic.Uint64
	batches   atomic.Uint64
	batchMsgs atomic.Uint64
	failures  [kindCount]atomic.Uint64
	created   atomic.Uint64
	discarded atomic.Uint64
	live      atomic.Int64

	active    atomic.Int64 // calls in flight, for Close
	closing   atomic.Bool
	drained   chan struct{} // closed once closing and no call is in flight
	drainOnce sync.Once
	closeOnce sync.Once
	closed    chan struct{} // closed once instances and code are released
	closeErr  error
}

// ModuleStats is a snapshot of a module's counters.
type ModuleStats struct {
	Calls              uint64            // calls started (a batch is one call)
	BatchCalls         uint64            // of which InboundBatch and OutboundBatch
	BatchMessages      uint64            // messages passed in those batches
	Failures           [KindCount]uint64 // failed calls, indexed by Kind
	InstancesCreated   uint64
	InstancesDiscarded uint64 // thrown away after a failure (not at Close)
	Instances          int    // instances alive now
	Idle               int    // of which free in the pool
}

// Failed sums Failures.
func (s ModuleStats) Failed() uint64 {
	var n uint64
	for _, f := range s.Failures {
		n += f
	}
	return n
}

func newModule(r *Runtime, wz wazero.Runtime, name string, compiled wazero.CompiledModule, cfg ModuleConfig) *Module {
	log := r.log.With("module", name)
	m := &Module{
		rt:       r,
		wz:       wz,
		name:     name,
		cfg:      cfg,
		compiled: compiled,
		log:      log,
		guestLog: newLineLimiter(log, r.logLines),
		drained:  make(chan struct{}),
		closed:   make(chan struct{}),
	}
	m.pool.init(cfg.MaxInstances)
	return m
}

// Name returns the name the module was loaded under.
func (m *Module) Name() string { return m.name }

// Config returns the module's configuration with defaults filled in.
func (m *Module) Config() ModuleConfig { return m.cfg }

// Open tells the guest that a socket opened.
func (m *Module) Open(ctx context.Context, h Host, info SocketInfo) error {
	return m.call(ctx, h, fnOpen, callIn{info: &info})
}

// Inbound passes a message from the browser through the guest, which
// normally Delivers the decoded message to the listeners.
func (m *Module) Inbound(ctx context.Context, h Host, binary bool, data []byte) error {
	return m.call(ctx, h, fnInbound, callIn{arg: flags(binary), data: data})
}

// Outbound passes a message bound for the browser through the guest, which
// normally writes the encoded frame with WriteFrame.
func (m *Module) Outbound(ctx context.Context, h Host, binary bool, data []byte) error {
	return m.call(ctx, h, fnOutbound, callIn{arg: flags(binary), data: data})
}

// Closed tells the guest that the socket closed with code and reason. It is
// the last call for the socket; the guest must not rely on Host methods
// other than Attr having an effect.
func (m *Module) Closed(ctx context.Context, h Host, code uint16, reason string) error {
	return m.call(ctx, h, fnClose, callIn{arg: uint32(code), text: reason})
}

// Timer tells the guest that timer id of the socket fired.
func (m *Module) Timer(ctx context.Context, h Host, id uint32) error {
	return m.call(ctx, h, fnTimer, callIn{arg: id})
}

func flags(binary bool) uint32 {
	if binary {
		return abi.FlagBinary
	}
	return 0
}

// call runs one export on a pooled instance.
func (m *Module) call(ctx context.Context, h Host, fn fnID, in callIn) error {
	_, err := m.callN(ctx, h, fn, in)
	return err
}

// callN runs one export or a batch on a pooled instance and returns how
// many messages of a batch were handled.
func (m *Module) callN(ctx context.Context, h Host, fn fnID, in callIn) (int, error) {
	if !m.acquire() {
		return 0, m.fail(&CallError{Module: m.name, Func: fnNames[fn], Kind: KindUnavailable, Err: ErrClosed, Batch: len(in.msgs)})
	}
	defer m.release()
	return m.do(ctx, h, fn, in)
}

// do is callN for a caller that holds the module (acquire).
func (m *Module) do(ctx context.Context, h Host, fn fnID, in callIn) (handled int, err error) {
	batch := fn.isBatch()
	if batch {
		if len(in.msgs) == 0 {
			return 0, nil
		}
		m.batches.Add(1)
		m.batchMsgs.Add(uint64(len(in.msgs)))
	}
	m.calls.Add(1)
	if ctx.Done() != nil && ctx.Err() != nil {
		return 0, m.fail(&CallError{Module: m.name, Func: fnNames[fn], Kind: KindCanceled, Err: ctx.Err(), Batch: len(in.msgs)})
	}
	inst, err := m.pool.get(ctx, m)
	if err != nil {
		return 0, m.fail(&CallError{Module: m.name, Func: fnNames[fn], Kind: KindUnavailable, Err: err, Batch: len(in.msgs)})
	}
	defer func() {
		// wazero recovers panics inside the guest and in host functions;
		// this catches anything else so that no guest can take the
		// process down.
		if r := recover(); r != nil {
			err = m.failed(inst, &CallError{Func: fnNames[fn], Kind: KindTrap, Detail: fmt.Sprintf("panic outside the guest: %v", r), Batch: len(in.msgs)})
		}
	}()
	var cerr *CallError
	if batch {
		handled, cerr = inst.runBatch(ctx, h, fn, in.msgs)
	} else {
		cerr = inst.run(ctx, h, fn, in)
	}
	if cerr != nil {
		return handled, m.failed(inst, cerr)
	}
	m.pool.put(inst)
	return handled, nil
}

// failed counts a failure and throws the instance away when its kind says
// so (else returns it to the pool).
func (m *Module) failed(inst *instance, e *CallError) error {
	e.Module = m.name
	if e.Kind.discards() {
		m.discard(inst)
	} else {
		m.pool.put(inst)
	}
	return m.fail(e)
}

func (m *Module) fail(e *CallError) error {
	m.failures[e.Kind].Add(1)
	return e
}

// discard closes a failed instance and returns its slot to the pool; a new
// instance is created in its place when a call needs one.
func (m *Module) discard(inst *instance) {
	m.discarded.Add(1)
	inst.close(context.Background())
	m.pool.release()
}

func (m *Module) acquire() bool {
	m.active.Add(1)
	if m.closing.Load() {
		m.release()
		return false
	}
	return true
}

func (m *Module) release() {
	if m.active.Add(-1) == 0 && m.closing.Load() {
		m.drainOnce.Do(func() { close(m.drained) })
	}
}

// Stats returns a snapshot of the module's counters.
func (m *Module) Stats() ModuleStats {
	s := ModuleStats{
		Calls:              m.calls.Load(),
		BatchCalls:         m.batches.Load(),
		BatchMessages:      m.batchMsgs.Load(),
		InstancesCreated:   m.created.Load(),
		InstancesDiscarded: m.discarded.Load(),
		Instances:          int(m.live.Load()),
		Idle:               m.pool.idle(),
	}
	for i := range m.failures {
		s.Failures[i] = m.failures[i].Load()
	}
	return s
}

// Close stops new calls (they fail with KindUnavailable wrapping
// ErrClosed), waits for calls in flight to finish, then closes every
// instance and the compiled code. If ctx is done first, Close returns its
// error and the module finishes closing on its own once the calls in
// flight are done. It is safe to call more than once.
func (m *Module) Close(ctx context.Context) error {
	m.closing.Store(true)
	if m.active.Load() == 0 {
		m.drainOnce.Do(func() { close(m.drained) })
	}
	go m.closeOnce.Do(m.finish)
	select {
	case <-m.closed:
		return m.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish releases the module once it is drained; it runs once, on its own
// goroutine, so that a Close that gives up does not leak the instances.
func (m *Module) finish() {
	<-m.drained
	ctx := context.Background()
	for _, inst := range m.pool.drain() {
		inst.close(ctx)
	}
	m.guestLog.flush()
	m.closeErr = m.compiled.Close(ctx)
	close(m.closed)
}
