package wasmhost_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// mapHost is a Host that keeps attributes, so that get_attr has values to
// copy back into guest memory.
type mapHost struct{ attrs map[string][]byte }

func (h *mapHost) WriteFrame(bool, []byte) error { return nil }
func (h *mapHost) Deliver(bool, []byte) error    { return nil }
func (h *mapHost) Close(uint16, string)          {}
func (h *mapHost) Attr(k string) ([]byte, bool)  { v, ok := h.attrs[k]; return v, ok }
func (h *mapHost) SetAttr(k string, v []byte) {
	if v == nil {
		delete(h.attrs, k)
		return
	}
	h.attrs[k] = append([]byte(nil), v...)
}
func (h *mapHost) ArmTimer(uint32, time.Duration) {}

// hostCall is one host function of the ABI with its parameter types.
type hostCall struct {
	name   string
	params []byte
}

var hostCalls = []hostCall{
	{abi.ImportWriteFrame, []byte{wasmbuild.I32, wasmbuild.I32, wasmbuild.I32}},
	{abi.ImportDeliver, []byte{wasmbuild.I32, wasmbuild.I32, wasmbuild.I32}},
	{abi.ImportClose, []byte{wasmbuild.I32, wasmbuild.I32, wasmbuild.I32}},
	{abi.ImportGetAttr, []byte{wasmbuild.I32, wasmbuild.I32, wasmbuild.I32, wasmbuild.I32}},
	{abi.ImportSetAttr, []byte{wasmbuild.I32, wasmbuild.I32, wasmbuild.I32, wasmbuild.I32}},
	{abi.ImportDeleteAttr, []byte{wasmbuild.I32, wasmbuild.I32}},
	{abi.ImportArmTimer, []byte{wasmbuild.I32, wasmbuild.I64}},
	{abi.ImportLog, []byte{wasmbuild.I32, wasmbuild.I32, wasmbuild.I32}},
}

// i64Const appends "i64.const v" (signed LEB128).
func i64Const(b []byte, v int64) []byte {
	b = append(b, 0x42)
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

var fuzzModules atomic.Int64

// FuzzHostFunctionArgs has a module call one host function with arbitrary
// arguments (pointers, lengths, codes, flags) over a memory holding
// arbitrary bytes. The host must never panic and must classify the call
// exactly: a pointer/length outside the guest's memory is KindBadPointer;
// anything in range is handled (a status the guest gets back, which the
// module returns, so KindGuestStatus when non-zero) and never a trap.
func FuzzHostFunctionArgs(f *testing.F) {
	f.Add(uint8(0), int32(0), int32(0), int32(5), int32(0), []byte("hello"))       // write_frame in range
	f.Add(uint8(0), int32(0), int32(-100), int32(200), int32(0), []byte(""))       // write_frame out of range
	f.Add(uint8(1), int32(1), int32(65530), int32(6), int32(0), []byte{})          // deliver ending exactly at the end
	f.Add(uint8(1), int32(4), int32(0), int32(1), int32(0), []byte("x"))           // deliver, bad flags
	f.Add(uint8(2), int32(1000), int32(0), int32(3), int32(0), []byte("bye"))      // close
	f.Add(uint8(2), int32(1000), int32(0), int32(2), int32(0), []byte{0xff, 0xfe}) // close, invalid UTF-8 reason
	f.Add(uint8(3), int32(0), int32(1), int32(100), int32(16), []byte("k"))        // get_attr, value fits
	f.Add(uint8(3), int32(0), int32(1), int32(65535), int32(16), []byte("k"))      // get_attr, value would land outside
	f.Add(uint8(3), int32(0), int32(1), int32(65535), int32(2), []byte("k"))       // get_attr, value does not fit: not written
	f.Add(uint8(4), int32(0), int32(1), int32(1), int32(4), []byte("kvvvv"))       // set_attr
	f.Add(uint8(4), int32(0), int32(1), int32(65535), int32(2), []byte("k"))       // set_attr, value out of range
	f.Add(uint8(5), int32(65536), int32(1), int32(0), int32(0), []byte{})          // delete_attr out of range
	f.Add(uint8(6), int32(7), int32(0), int32(0), int32(1000000), []byte{})        // arm_timer
	f.Add(uint8(6), int32(300), int32(0), int32(0), int32(-1), []byte{})           // arm_timer, id too big
	f.Add(uint8(7), int32(1), int32(0), int32(65537), int32(0), []byte{})          // log, length past the end
	f.Add(uint8(7), int32(9), int32(0), int32(4), int32(0), []byte("note"))        // log, bad level
	f.Fuzz(func(t *testing.T, which uint8, a, b, c, d int32, data []byte) {
		if len(data) > 1000 {
			data = data[:1000] // below 1024, where the inbound message goes
		}
		call := hostCalls[int(which)%len(hostCalls)]
		args := []int32{a, b, c, d}[:len(call.params)]
		wasm := tinyModule(func(m *wasmbuild.Module) {
			m.Data = data
			m.Imports = []wasmbuild.Import{{Module: abi.ImportModule, Name: call.name, Type: wasmbuild.FuncType{Params: call.params, Results: []byte{wasmbuild.I32}}}}
			var code []byte
			for i, p := range call.params {
				if p == wasmbuild.I64 {
					code = i64Const(code, int64(args[i])*1000)
				} else {
					code = wasmbuild.I32Const(code, args[i])
				}
			}
			code = append(code, 0x10, 0x00) // call import 0 and return its result as the status
			m.Funcs[4].Code = code
		})
		ctx := context.Background()
		mod, err := shared.Load(ctx, fmt.Sprintf("fuzz-hostcall-%d", fuzzModules.Add(1)), wasm, wasmhost.ModuleConfig{MaxInstances: 1})
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		defer mod.Close(ctx)
		h := &mapHost{attrs: map[string][]byte{"k": []byte("value-of-k")}}
		err = mod.Inbound(ctx, h, false, []byte("x"))

		// What the memory holds when the import runs: data at 0, the
		// inbound message "x" at 1024 (the module's alloc), zeros elsewhere.
		const memSize = 1 << 16
		mem := func(p, n uint32) (string, bool) {
			if uint64(p)+uint64(n) > memSize {
				return "", false
			}
			buf := make([]byte, n)
			for i := range buf {
				switch at := int(p) + i; {
				case at < len(data):
					buf[i] = data[at]
				case at == 1024:
					buf[i] = 'x'
				}
			}
			return string(buf), true
		}
		u := func(v int32) uint32 { return uint32(v) }
		bad := false
		switch call.name {
		case abi.ImportWriteFrame, abi.ImportDeliver, abi.ImportClose, abi.ImportLog:
			_, ok := mem(u(b), u(c))
			bad = !ok
		case abi.ImportDeleteAttr:
			_, ok := mem(u(a), u(b))
			bad = !ok
		case abi.ImportSetAttr:
			_, ok1 := mem(u(a), u(b))
			_, ok2 := mem(u(c), u(d))
			bad = !ok1 || !ok2
		case abi.ImportGetAttr:
			k, ok := mem(u(a), u(b))
			if !ok {
				bad = true
				break
			}
			if v, found := h.attrs[k]; found && u(b) <= abi.MaxAttrKey && uint64(len(v)) <= uint64(u(d)) {
				_, ok := mem(u(c), uint32(len(v)))
				bad = !ok
			}
		}

		var ce *wasmhost.CallError
		switch {
		case err == nil:
			if bad {
				t.Fatalf("%s%v: out of range, but the call succeeded", call.name, args)
			}
		case !errors.As(err, &ce):
			t.Fatalf("%s%v: err %v (%T), want a *CallError", call.name, args, err, err)
		case strings.Contains(ce.Detail, "panic") || strings.Contains(fmt.Sprint(ce.Err), "panic"):
			t.Fatalf("%s%v: the host panicked: %v", call.name, args, ce)
		case bad && ce.Kind != wasmhost.KindBadPointer:
			t.Fatalf("%s%v: out of range, got %v, want bad_pointer", call.name, args, ce)
		case !bad && ce.Kind != wasmhost.KindGuestStatus:
			t.Fatalf("%s%v: in range, got %v, want success or the returned status", call.name, args, ce)
		}
	})
}
