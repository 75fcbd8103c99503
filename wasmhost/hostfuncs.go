package wasmhost

import (
	"context"
	"fmt"
	"runtime"
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
	inst.emitted += len(data)
	if inst.emitted > inst.m.cfg.MaxEmitBytes {
		inst.abort(KindEmitLimit, fmt.Sprintf("%s: the call emitted more than %d bytes", fn, inst.m.cfg.MaxEmitBytes))
	}
	binary := flags&abi.FlagBinary != 0
	var err error
	if fn == abi.ImportWriteFrame {
		if !binary && !utf8.Valid(data) {
			return abi.StatusBadArgument // a text frame must be UTF-8 (RFC 6455 §5.6)
		}
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
	case inst.host == nil, !validCloseCode(code), !utf8.Valid(reason):
		stack[0] = abi.StatusBadArgument
	case len(reason) > abi.MaxCloseReason:
		stack[0] = abi.StatusTooLarge
	default:
		inst.host.Close(uint16(code), string(reason))
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
	v, ok := inst.host.Attr(inst.key(k))
	if !ok {
		stack[0] = negStatus(abi.StatusNotFound)
		return
	}
	if uint64(len(v)) <= uint64(vcap) {
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
	case inst.host == nil:
		stack[0] = abi.StatusBadArgument
	case len(k) > abi.MaxAttrKey, len(v) > abi.MaxAttrValue:
		stack[0] = abi.StatusTooLarge
	default:
		if len(v) == 0 {
			v = emptyValue
		}
		inst.host.SetAttr(inst.key(k), v)
		stack[0] = abi.StatusOK
	}
}

func hostDeleteAttr(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	k := inst.view(mod, abi.ImportDeleteAttr, uint32(stack[0]), uint32(stack[1]))
	switch {
	case inst.host == nil:
		stack[0] = abi.StatusBadArgument
	case len(k) > abi.MaxAttrKey:
		stack[0] = abi.StatusTooLarge
	default:
		inst.host.SetAttr(inst.key(k), nil)
		stack[0] = abi.StatusOK
	}
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
	now := mono()
	if now > inst.deadline {
		inst.abort(KindTimeout, "the call ran past its budget")
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
	stack[0] = instrument.Period
}
