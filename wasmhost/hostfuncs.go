package wasmhost

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/internal/instrument"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

type hostFunc struct {
	fn      api.GoModuleFunc
	params  []api.ValueType
	results []api.ValueType
}

// hostFuncs are the functions of abi.ImportModule. Each finds its call state
// through the context (instanceOf), bounds-checks every pointer and length
// the guest passed, and never retains a slice of guest memory.
var hostFuncs = map[string]hostFunc{
	abi.ImportWriteFrame: {hostWriteFrame, []api.ValueType{i32, i32, i32}, []api.ValueType{i32}},
	abi.ImportDeliver:    {hostDeliver, []api.ValueType{i32, i32, i32}, []api.ValueType{i32}},
	abi.ImportClose:      {hostClose, []api.ValueType{i32, i32, i32}, []api.ValueType{i32}},
	abi.ImportGetAttr:    {hostGetAttr, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
	abi.ImportSetAttr:    {hostSetAttr, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
	abi.ImportDeleteAttr: {hostDeleteAttr, []api.ValueType{i32, i32}, []api.ValueType{i32}},
	abi.ImportArmTimer:   {hostArmTimer, []api.ValueType{i32, i64}, []api.ValueType{i32}},
	abi.ImportLog:        {hostLog, []api.ValueType{i32, i32, i32}, []api.ValueType{i32}},
	abi.ImportYield:      {hostYield, nil, []api.ValueType{i32}},
}

func instantiateHostModule(ctx context.Context, wz wazero.Runtime) error {
	b := wz.NewHostModuleBuilder(abi.ImportModule)
	for name, f := range hostFuncs {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).Export(name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("wasmhost: host module: %w", err)
	}
	return nil
}

// call state of a host function; a call from outside any instance (which
// cannot happen through Load) is refused with a trap.
func callState(ctx context.Context) *instance {
	inst := instanceOf(ctx)
	if inst == nil {
		panic(errAbort)
	}
	return inst
}

// view returns guest memory [ptr, ptr+n) or stops the call with
// KindBadPointer.
func (inst *instance) view(mod api.Module, fn string, ptr, n uint32) []byte {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		inst.abort(KindBadPointer, fmt.Sprintf("%s: [%#x, +%d) is outside the guest's memory of %d bytes", fn, ptr, n, mod.Memory().Size()))
	}
	return b
}

func hostWriteFrame(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	data := inst.view(mod, abi.ImportWriteFrame, uint32(stack[1]), uint32(stack[2]))
	stack[0] = uint64(inst.emit(abi.ImportWriteFrame, uint32(stack[0]), data))
}

func hostDeliver(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	data := inst.view(mod, abi.ImportDeliver, uint32(stack[1]), uint32(stack[2]))
	stack[0] = uint64(inst.emit(abi.ImportDeliver, uint32(stack[0]), data))
}

func (inst *instance) emit(fn string, flags uint32, data []byte) abi.Status {
	if inst.host == nil || flags&^abi.FlagBinary != 0 {
		return abi.StatusBadArgument
	}
	if inst.batchN > 0 {
		inst.observeProgress()
	}
	inst.emitted += len(data)
	// In a batch call the cap applies per message: emitMark is where the
	// current message's bytes start (see observeProgress).
	if inst.emitted-inst.emitMark > inst.m.cfg.MaxEmitBytes {
		inst.abort(KindEmitLimit, fmt.Sprintf("%s: the %s emitted more than %d bytes", fn, inst.what(), inst.m.cfg.MaxEmitBytes))
	}
	inst.spend(len(data))
	binary := flags&abi.FlagBinary != 0
	if !binary && !utf8.Valid(data) {
		// A text frame must be UTF-8 (RFC 6455 §5.6), and so must a text
		// message for the listeners, which may send it on as a frame.
		return abi.StatusBadArgument
	}
	var err error
	if fn == abi.ImportWriteFrame {
		err = inst.host.WriteFrame(binary, data)
	} else {
		err = inst.host.Deliver(binary, data)
	}
	if err != nil {
		return abi.StatusClosed
	}
	return abi.StatusOK
}

// validCloseCode reports whether an endpoint may send code (RFC 6455 §7.4).
func validCloseCode(code uint32) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

func hostClose(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	code := uint32(stack[0])
	reason := inst.view(mod, abi.ImportClose, uint32(stack[1]), uint32(stack[2]))
	switch {
	case inst.host == nil, !validCloseCode(code):
		stack[0] = abi.StatusBadArgument
	case len(reason) > abi.MaxCloseReason:
		stack[0] = abi.StatusTooLarge
	case !utf8.Valid(reason):
		stack[0] = abi.StatusBadArgument
	default:
		inst.host.Close(uint16(code), string(reason))
		if !inst.closeAsked && inst.batchN > 0 {
			inst.closeAt = uint32(inst.failedMessage())
		}
		inst.closeAsked = true
		stack[0] = abi.StatusOK
	}
}

// key returns the attribute key in guest memory as a string, interned per
// instance so that the common case of a few fixed keys allocates nothing.
func (inst *instance) key(b []byte) string {
	if k, ok := inst.keys[string(b)]; ok {
		return k
	}
	k := string(b)
	if len(inst.keys) < 256 {
		inst.keys[k] = k
	}
	return k
}

func hostGetAttr(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	kptr, klen, vptr, vcap := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	k := inst.view(mod, abi.ImportGetAttr, kptr, klen)
	switch {
	case inst.host == nil:
		stack[0] = negStatus(abi.StatusBadArgument)
		return
	case klen > abi.MaxAttrKey:
		stack[0] = negStatus(abi.StatusTooLarge)
		return
	}
	if string(k) == attrBytesKey {
		stack[0] = negStatus(abi.StatusBadArgument)
		return
	}
	v, ok := inst.host.Attr(inst.key(k))
	switch {
	case !ok:
		stack[0] = negStatus(abi.StatusNotFound)
		return
	case len(v) > math.MaxInt32:
		stack[0] = negStatus(abi.StatusTooLarge)
		return
	}
	if uint64(len(v)) <= uint64(vcap) {
		inst.spend(len(v))
		copy(inst.view(mod, abi.ImportGetAttr, vptr, uint32(len(v))), v)
	}
	stack[0] = uint64(uint32(len(v)))
}

func negStatus(s int32) uint64 { return uint64(uint32(-s)) }

// emptyValue is a non-nil empty attribute value: nil means delete.
var emptyValue = []byte{}

func hostSetAttr(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	k := inst.view(mod, abi.ImportSetAttr, uint32(stack[0]), uint32(stack[1]))
	v := inst.view(mod, abi.ImportSetAttr, uint32(stack[2]), uint32(stack[3]))
	switch {
	case inst.host == nil, string(k) == attrBytesKey:
		stack[0] = abi.StatusBadArgument
	case len(k) > abi.MaxAttrKey, len(v) > abi.MaxAttrValue:
		stack[0] = abi.StatusTooLarge
	default:
		key := inst.key(k)
		old, had := inst.host.Attr(key)
		used := inst.attrBytes()
		grown := used + len(key) + len(v)
		if had {
			grown -= len(key) + len(old)
		}
		if grown > abi.MaxAttrTotal && grown > used {
			stack[0] = abi.StatusTooLarge
			return
		}
		if len(v) == 0 {
			v = emptyValue
		}
		inst.spend(len(v))
		inst.host.SetAttr(key, v)
		inst.setAttrBytes(used, grown)
		stack[0] = abi.StatusOK
	}
}

func hostDeleteAttr(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	k := inst.view(mod, abi.ImportDeleteAttr, uint32(stack[0]), uint32(stack[1]))
	switch {
	case inst.host == nil, string(k) == attrBytesKey:
		stack[0] = abi.StatusBadArgument
	case len(k) > abi.MaxAttrKey:
		stack[0] = abi.StatusTooLarge
	default:
		key := inst.key(k)
		if old, had := inst.host.Attr(key); had {
			used := inst.attrBytes()
			inst.host.SetAttr(key, nil)
			inst.setAttrBytes(used, used-len(key)-len(old))
		}
		stack[0] = abi.StatusOK
	}
}

// attrBytesKey is the socket attribute in which the host keeps the bytes
// (keys plus values) the guest has stored in the socket's attributes, so
// that it can hold the guest to abi.MaxAttrTotal per socket: the count
// must live with the socket, like the attributes, since any instance may
// serve the next call. Guests can neither read nor write it. Attributes
// the server or its listeners set are not counted; a guest that
// overwrites or deletes one is credited nothing below zero.
const attrBytesKey = abi.ReservedAttrKey

// attrBytes returns the socket's count of guest attribute bytes.
func (inst *instance) attrBytes() int {
	v, _ := inst.host.Attr(attrBytesKey)
	n := 0
	for _, c := range v { // decimal, as setAttrBytes writes it
		switch {
		case c < '0' || c > '9':
			return 0 // not ours: someone else wrote it
		case n > abi.MaxAttrTotal:
			return n // full; stop before it could overflow
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// setAttrBytes stores the count n (never below zero) if it changed from
// old.
func (inst *instance) setAttrBytes(old, n int) {
	n = max(n, 0)
	if n == old {
		return
	}
	inst.numBuf = strconv.AppendInt(inst.numBuf[:0], int64(n), 10)
	inst.host.SetAttr(attrBytesKey, inst.numBuf)
}

func hostArmTimer(ctx context.Context, _ api.Module, stack []uint64) {
	inst := callState(ctx)
	id, after := uint32(stack[0]), int64(stack[1])
	if inst.host == nil || id > abi.MaxTimerID {
		stack[0] = abi.StatusBadArgument
		return
	}
	inst.host.ArmTimer(id, time.Duration(after))
	stack[0] = abi.StatusOK
}

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	level := uint32(stack[0])
	msg := inst.view(mod, abi.ImportLog, uint32(stack[1]), uint32(stack[2]))
	if level > abi.LogError {
		stack[0] = abi.StatusBadArgument
		return
	}
	inst.m.guestLog.line(guestLevel(level), "log", msg)
	stack[0] = abi.StatusOK
}

// schedSlice is how long a call runs before its yields start letting other
// goroutines in. Guest code is native and cannot be preempted; without this
// a few long calls could hold every Go processor.
const schedSlice = int64(time.Millisecond)

// hostYield is called by the checks the instrumenter put at every function
// entry and loop head, once per instrument.Period checks.
func hostYield(ctx context.Context, _ api.Module, stack []uint64) {
	inst := callState(ctx)
	inst.yields++
	inst.checkBudget()
	stack[0] = instrument.Period
}

// workQuantum is how many bytes host functions may handle for a call
// between two checks of its budget.
const workQuantum = 256 << 10

// spend accounts for n bytes of work a host function does for the guest
// and checks the call's budget every workQuantum bytes: the fuel counts
// the guest's own instructions, and without this a guest could stretch a
// call far past its budget through host functions that handle large
// buffers (random_get, fd_write, write_frame, ...).
func (inst *instance) spend(n int) {
	inst.work += n
	if inst.work >= workQuantum {
		inst.work = 0
		inst.checkBudget()
	}
}

// checkBudget stops the call if it is past its deadline or its caller's
// context is done, and lets other goroutines run during a long call.
func (inst *instance) checkBudget() {
	now := mono()
	if inst.batchN > 0 {
		// Each message of a batch gets the budget of a single call, from
		// the first check that sees the guest started it.
		inst.observeProgress()
		if inst.progress != inst.budgetIdx {
			inst.budgetIdx = inst.progress
			inst.deadline = now + int64(inst.m.cfg.CallTimeout)
		}
	}
	if now > inst.deadline {
		inst.abort(KindTimeout, "the "+inst.what()+" ran past its budget")
	}
	if p := inst.cc.parent; p != nil {
		if done := p.Done(); done != nil {
			select {
			case <-done:
				inst.abort(KindCanceled, "the caller's context is done")
			default:
			}
		}
	}
	if now-inst.sliceStart > schedSlice {
		inst.sliceStart = now
		runtime.Gosched()
	}
}
