package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/internal/instrument"
)

type fnID uint8

const (
	fnOpen fnID = iota
	fnInbound
	fnOutbound
	fnClose
	fnTimer
	fnInboundBatch  // ABI 1.1, optional
	fnOutboundBatch // ABI 1.1, optional
	fnCount
)

// fnNames name the calls in errors; a batch is named by its direction.
var fnNames = [fnCount]string{"open", "inbound", "outbound", "close", "timer", "inbound", "outbound"}

var fnExports = [fnCount]string{abi.ExportOpen, abi.ExportInbound, abi.ExportOutbound, abi.ExportClose, abi.ExportTimer, abi.ExportInboundBatch, abi.ExportOutboundBatch}

// isBatch reports whether fn is one of the optional batch exports.
func (fn fnID) isBatch() bool { return fn == fnInboundBatch || fn == fnOutboundBatch }

// epoch anchors the monotonic clock the call budget is measured with.
var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }

// instance is one wazero instance of a module with everything a call needs
// resolved in advance, so that a call allocates nothing.
type instance struct {
	m     *Module
	mod   api.Module
	mem   api.Memory
	fns   [fnCount]api.Function
	alloc api.Function
	fuel  api.MutableGlobal // the fuel global the instrumenter added
	stack []uint64
	batch bool // the guest declares ABI 1.1 or later: fns has the batch exports

	bufPtr, bufCap uint32 // the guest's input buffer, from its alloc export
	scratch        []byte // encoding buffer for OpenInfo

	// Per-call state, touched only by the goroutine running the call.
	cc          callContext
	host        Host
	start       int64 // mono() value when the call began
	deadline    int64 // mono() value after which yield stops the call
	sliceStart  int64 // mono() value of the last scheduler yield
	yields      int   // calls of yield during this call
	work        int   // bytes host functions handled since the last budget check
	emitted     int
	failKind    Kind
	failDetail  string
	memLimitHit bool
	closeAsked  bool   // the guest called close during this call
	closeAt     uint32 // in a batch call: the message that asked to close

	// Per-call state of a batch call (batch.go); batchN is 0 in others.
	batchN    uint32 // messages in the batch
	progress  uint32 // the highest valid index seen in its progress word
	budgetIdx uint32 // the message whose budget (deadline) runs now
	emitMark  int    // emitted when message progress started

	keys   map[string]string // interned attribute keys
	numBuf []byte            // scratch for the attribute byte count
	stdout lineBuffer
	stderr lineBuffer
}

// callContext is the context.Context wazero passes to host functions. It
// carries the instance, so host functions find their call state with a type
// assertion instead of a map lookup or context.WithValue (which would
// allocate per call), and delegates everything else to the caller's ctx.
type callContext struct {
	parent context.Context
	inst   *instance
}

func (c *callContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *callContext) Done() <-chan struct{}       { return c.parent.Done() }
func (c *callContext) Err() error                  { return c.parent.Err() }
func (c *callContext) Value(key any) any           { return c.parent.Value(key) }

// instanceOf returns the instance a host function was called for.
func instanceOf(ctx context.Context) *instance {
	if cc, ok := ctx.(*callContext); ok {
		return cc.inst
	}
	return nil
}

// errAbort is what host functions panic with to stop a call; the reason is
// in the instance's failKind and failDetail.
var errAbort = errors.New("wasmhost: call aborted by the host")

func (inst *instance) abort(kind Kind, detail string) {
	inst.failKind = kind
	inst.failDetail = detail
	panic(errAbort)
}

// linearMemory backs an instance's memory and enforces MaxMemoryPages,
// recording when the guest asked for more.
type linearMemory struct {
	buf   []byte
	limit uint64
	inst  *instance
}

func (l *linearMemory) Reallocate(size uint64) []byte {
	if size > l.limit {
		l.inst.memLimitHit = true
		return nil
	}
	if size <= uint64(cap(l.buf)) {
		l.buf = l.buf[:size]
		return l.buf
	}
	// Go guests grow their heap in large steps; a little slack saves
	// copies without holding much unused memory.
	c := min(size+size/8, l.limit)
	nb := make([]byte, size, c)
	copy(nb, l.buf)
	l.buf = nb
	return nb
}

func (l *linearMemory) Free() { l.buf = nil }

// newInstance instantiates the module, runs the guest's initialisation and
// checks, and resolves its exports. The new instance outlives the call that
// asked for it, so the caller's cancellation does not stop its start; the
// InitTimeout budget does.
func (m *Module) newInstance(ctx context.Context) (_ *instance, err error) {
	ctx = context.WithoutCancel(ctx)
	inst := &instance{m: m, stack: make([]uint64, 2), keys: make(map[string]string)}
	inst.cc.inst = inst
	limit := uint64(m.cfg.MaxMemoryPages) * 65536
	allocCtx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(capacity, maxBytes uint64) experimental.LinearMemory {
		return &linearMemory{buf: make([]byte, 0, min(capacity, limit)), limit: min(maxBytes, limit), inst: inst}
	}))
	inst.begin(allocCtx, nil, m.cfg.InitTimeout)
	defer inst.end()

	mod, err := m.wz.InstantiateModule(&inst.cc, m.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, m.initError("instantiate", inst, err)
	}
	inst.mod = mod
	m.created.Add(1)
	m.live.Add(1)
	defer func() {
		if err != nil {
			inst.close(ctx)
		}
	}()
	inst.mem = mod.Memory()
	fuel, ok := mod.ExportedGlobal(instrument.FuelExport).(api.MutableGlobal)
	if !ok {
		return nil, fmt.Errorf("%w: module %q: the instrumented module lacks its fuel global", ErrInit, m.name)
	}
	inst.fuel = fuel
	inst.alloc = mod.ExportedFunction(abi.ExportAlloc)

	if f := mod.ExportedFunction(abi.ExportInitialize); f != nil {
		if err := f.CallWithStack(&inst.cc, nil); err != nil {
			return nil, m.initError(abi.ExportInitialize, inst, err)
		}
	}
	stack := inst.stack
	if err := mod.ExportedFunction(abi.ExportABIVersion).CallWithStack(&inst.cc, stack); err != nil {
		return nil, m.initError(abi.ExportABIVersion, inst, err)
	}
	v := uint32(stack[0])
	if !abi.Compatible(v) {
		return nil, fmt.Errorf("%w: module %q declares ABI %s; this host supports ABI %s (major %d, minor up to %d)",
			ErrABIVersion, m.name, abi.VersionString(v), abi.VersionString(abi.Version), abi.Major, abi.Minor)
	}
	// A 1.0 guest knows nothing of the batch exports (a function it
	// exports under such a name means something else); a 1.1 guest must
	// have them.
	if _, minor, _ := abi.UnpackVersion(v); minor >= 1 {
		if mod.ExportedFunction(abi.ExportInboundBatch) == nil {
			return nil, fmt.Errorf("%w %q: declares ABI %s but does not export %s and %s",
				ErrInvalidModule, m.name, abi.VersionString(v), abi.ExportInboundBatch, abi.ExportOutboundBatch)
		}
		inst.batch = true
	}
	cfg := m.cfg.GuestConfig
	ptr, err := inst.input(len(cfg))
	if err != nil {
		return nil, m.initError(abi.ExportAlloc, inst, err)
	}
	inst.mem.WriteString(ptr, cfg)
	stack[0] = uint64(len(cfg))
	if err := mod.ExportedFunction(abi.ExportInit).CallWithStack(&inst.cc, stack); err != nil {
		return nil, m.initError(abi.ExportInit, inst, err)
	}
	if status := uint32(stack[0]); status != abi.StatusOK {
		return nil, fmt.Errorf("%w: module %q: %s returned status %d", ErrInit, m.name, abi.ExportInit, status)
	}
	// Resolve the exports the calls use only now: the guest's start may
	// have grown the call stacks of the functions it ran (see refresh).
	inst.refresh(fnCount)
	return inst, nil
}

// stackRefreshAfter is how long a call must have run before refresh drops
// the call stacks it may have grown.
const stackRefreshAfter = int64(500 * time.Microsecond)

// refresh resolves the exports again, fn only (and alloc), or all of them
// for fnCount; the batch exports only for a guest of ABI 1.1 (batch).
// wazero gives every resolved function its own call stack, which grows
// with the deepest recursion of a call and never shrinks: a
// guest that recursed deep once would make the instance hold on to up to
// wazero's ceiling of about 100 MB per export, outside MaxMemoryPages.
// Resolving the function again drops the grown stack. Growing a stack
// takes time (it is written and, as it doubles, copied: about 0.5 MB per
// millisecond measured here), so a call that yielded (used a fuel period)
// and ran longer than stackRefreshAfter pays for a refresh (a few
// allocations), and short calls, the normal case, never do.
func (inst *instance) refresh(fn fnID) {
	inst.alloc = inst.mod.ExportedFunction(abi.ExportAlloc)
	for i, name := range fnExports {
		id := fnID(i)
		if (fn == fnCount || id == fn) && (inst.batch || !id.isBatch()) {
			inst.fns[i] = inst.mod.ExportedFunction(name)
		}
	}
}

func (m *Module) initError(step string, inst *instance, err error) error {
	kind, detail := inst.classify(err)
	if detail != "" {
		detail = ": " + detail
	}
	return fmt.Errorf("%w: module %q: %s: %s%s: %w", ErrInit, m.name, step, kind, detail, err)
}

// begin sets up the per-call state; end clears it.
func (inst *instance) begin(ctx context.Context, h Host, budget time.Duration) {
	now := mono()
	inst.cc.parent = ctx
	inst.host = h
	inst.start = now
	inst.deadline = now + int64(budget)
	inst.sliceStart = now
	inst.yields = 0
	inst.work = 0
	if inst.fuel != nil {
		inst.fuel.Set(instrument.Period)
	}
	inst.emitted = 0
	inst.failKind = 0
	inst.failDetail = ""
	inst.memLimitHit = false
	inst.closeAsked = false
	inst.closeAt = 0
	inst.batchN, inst.progress, inst.budgetIdx, inst.emitMark = 0, 0, 0, 0
}

func (inst *instance) end() {
	inst.cc.parent = nil
	inst.host = nil
}

// input makes sure the guest's input buffer holds at least n bytes and
// returns its address. The buffer is re-requested only when it is too
// small, so a steady stream of messages costs no extra guest call.
func (inst *instance) input(n int) (uint32, error) {
	if uint64(n) > uint64(inst.bufCap) || inst.bufCap == 0 {
		if uint64(n) > 1<<31 {
			return 0, fmt.Errorf("input of %d bytes is too large", n)
		}
		inst.stack[0] = uint64(max(n, 1))
		if err := inst.alloc.CallWithStack(&inst.cc, inst.stack); err != nil {
			return 0, err
		}
		ptr := uint32(inst.stack[0])
		if uint64(ptr)+uint64(max(n, 1)) > uint64(inst.mem.Size()) {
			inst.bufPtr, inst.bufCap = 0, 0
			inst.failKind = KindBadPointer
			inst.failDetail = fmt.Sprintf("%s(%d) returned %#x, outside memory of %d bytes", abi.ExportAlloc, n, ptr, inst.mem.Size())
			return 0, errAbort
		}
		inst.bufPtr, inst.bufCap = ptr, uint32(max(n, 1))
	}
	return inst.bufPtr, nil
}

// callIn is the input of a call; which fields count depends on the export.
type callIn struct {
	arg  uint32      // flags (inbound, outbound), close code, timer id
	data []byte      // message (inbound, outbound)
	text string      // close reason
	info *SocketInfo // open
	msgs []Msg       // batches
}

// run performs one call of a single export (not a batch; see runBatch).
// It returns nil or a *CallError without Module set.
func (inst *instance) run(ctx context.Context, h Host, fn fnID, in callIn) *CallError {
	inst.begin(ctx, h, inst.m.cfg.CallTimeout)
	defer inst.end()
	stack := inst.stack
	switch fn {
	case fnInbound, fnOutbound:
		ptr, err := inst.input(len(in.data))
		if err != nil {
			return inst.callError(fn, err)
		}
		inst.mem.Write(ptr, in.data)
		stack[0], stack[1] = uint64(in.arg), uint64(len(in.data))
	case fnClose:
		ptr, err := inst.input(len(in.text))
		if err != nil {
			return inst.callError(fn, err)
		}
		inst.mem.WriteString(ptr, in.text)
		stack[0], stack[1] = uint64(in.arg), uint64(len(in.text))
	case fnOpen:
		info := in.info
		inst.scratch = abi.AppendOpenInfo(inst.scratch[:0], abi.OpenInfo{
			SocketID:   info.ID,
			Path:       info.Path,
			Query:      stripSession(info.RawQuery),
			User:       info.User,
			Context:    info.Context,
			RemoteAddr: info.RemoteAddr,
		})
		ptr, err := inst.input(len(inst.scratch))
		if err != nil {
			return inst.callError(fn, err)
		}
		inst.mem.Write(ptr, inst.scratch)
		stack[0] = uint64(len(inst.scratch))
	case fnTimer:
		stack[0] = uint64(in.arg)
	}
	if err := inst.fns[fn].CallWithStack(&inst.cc, stack); err != nil {
		return inst.callError(fn, err)
	}
	if inst.yields > 0 && mono()-inst.start > stackRefreshAfter {
		inst.refresh(fn)
	}
	if status := uint32(stack[0]); status != abi.StatusOK {
		return &CallError{Func: fnNames[fn], Kind: KindGuestStatus, Status: status}
	}
	return nil
}

func (inst *instance) callError(fn fnID, err error) *CallError {
	kind, detail := inst.classify(err)
	if errors.Is(err, errAbort) {
		err = nil // the detail says it all
	}
	return &CallError{Func: fnNames[fn], Kind: kind, Detail: detail, Err: err}
}

// classify decides the kind of a failed guest call: what a host function
// recorded before aborting wins, then the memory cap, then a trap.
func (inst *instance) classify(err error) (Kind, string) {
	switch {
	case inst.failKind != 0 && inst.failKind != KindTrap:
		return inst.failKind, inst.failDetail
	case inst.memLimitHit:
		return KindMemoryLimit, fmt.Sprintf("the guest asked for more than %d memory pages", inst.m.cfg.MaxMemoryPages)
	case inst.failKind == KindTrap:
		return KindTrap, inst.failDetail
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return KindTrap, fmt.Sprintf("the guest exited with code %d", exit.ExitCode())
	}
	return KindTrap, ""
}

func (inst *instance) close(ctx context.Context) {
	if inst.mod == nil {
		return
	}
	inst.stdout.flush(inst.m.guestLog, "stdout")
	inst.stderr.flush(inst.m.guestLog, "stderr")
	_ = inst.mod.Close(ctx)
	inst.mod = nil
	inst.m.live.Add(-1)
}

// stripSession removes every "session" parameter from a raw query string.
func stripSession(q string) string {
	if !strings.Contains(q, "session") {
		return q
	}
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, p := range parts {
		key, _, _ := strings.Cut(p, "=")
		if key == "session" {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}
