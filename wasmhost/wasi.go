package wasmhost

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const wasiModule = "wasi_snapshot_preview1"

// WASI errno values used here.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNosys   = 52
)

// wasiFuncs is every function of WASI preview 1 with its signature. Only
// the ones with an implementation do anything; the rest answer ENOSYS, so
// a guest that links against them (Go's os package does) still loads but
// has no file system, network, environment or arguments.
var wasiFuncs = []struct {
	name    string
	params  string // one letter per parameter: i (i32) or l (i64)
	results int
	fn      api.GoModuleFunc
}{
	{"args_get", "ii", 1, wasiZero},
	{"args_sizes_get", "ii", 1, wasiSizesGet},
	{"environ_get", "ii", 1, wasiZero},
	{"environ_sizes_get", "ii", 1, wasiSizesGet},
	{"clock_res_get", "ii", 1, wasiClockResGet},
	{"clock_time_get", "ili", 1, wasiClockTimeGet},
	{"fd_advise", "illi", 1, nil},
	{"fd_allocate", "ill", 1, nil},
	{"fd_close", "i", 1, wasiFdClose},
	{"fd_datasync", "i", 1, nil},
	{"fd_fdstat_get", "ii", 1, wasiFdstatGet},
	{"fd_fdstat_set_flags", "ii", 1, wasiFdClose},
	{"fd_fdstat_set_rights", "ill", 1, nil},
	{"fd_filestat_get", "ii", 1, nil},
	{"fd_filestat_set_size", "il", 1, nil},
	{"fd_filestat_set_times", "illi", 1, nil},
	{"fd_pread", "iiili", 1, nil},
	{"fd_prestat_get", "ii", 1, wasiBadf},
	{"fd_prestat_dir_name", "iii", 1, wasiBadf},
	{"fd_pwrite", "iiili", 1, nil},
	{"fd_read", "iiii", 1, wasiFdRead},
	{"fd_readdir", "iiili", 1, nil},
	{"fd_renumber", "ii", 1, nil},
	{"fd_seek", "ilii", 1, nil},
	{"fd_sync", "i", 1, nil},
	{"fd_tell", "ii", 1, nil},
	{"fd_write", "iiii", 1, wasiFdWrite},
	{"path_create_directory", "iii", 1, nil},
	{"path_filestat_get", "iiiii", 1, nil},
	{"path_filestat_set_times", "iiiilli", 1, nil},
	{"path_link", "iiiiiii", 1, nil},
	{"path_open", "iiiiillii", 1, nil},
	{"path_readlink", "iiiiii", 1, nil},
	{"path_remove_directory", "iii", 1, nil},
	{"path_rename", "iiiiii", 1, nil},
	{"path_symlink", "iiiii", 1, nil},
	{"path_unlink_file", "iii", 1, nil},
	{"poll_oneoff", "iiii", 1, wasiPollOneoff},
	{"proc_exit", "i", 0, wasiProcExit},
	{"proc_raise", "i", 1, nil},
	{"sched_yield", "", 1, wasiZero},
	{"random_get", "ii", 1, wasiRandomGet},
	{"sock_accept", "iii", 1, nil},
	{"sock_recv", "iiiiii", 1, nil},
	{"sock_send", "iiiii", 1, nil},
	{"sock_shutdown", "ii", 1, nil},
}

var wasiFuncIndex = func() map[string]int {
	m := make(map[string]int, len(wasiFuncs))
	for i, f := range wasiFuncs {
		m[f.name] = i
	}
	return m
}()

func instantiateWASI(ctx context.Context, wz wazero.Runtime) error {
	b := wz.NewHostModuleBuilder(wasiModule)
	for _, f := range wasiFuncs {
		params := make([]api.ValueType, len(f.params))
		for i, c := range f.params {
			params[i] = i32
			if c == 'l' {
				params[i] = i64
			}
		}
		var results []api.ValueType
		if f.results == 1 {
			results = []api.ValueType{i32}
		}
		fn := f.fn
		if fn == nil {
			fn = wasiNosys
		}
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("wasmhost: WASI module: %w", err)
	}
	return nil
}

func wasiNosys(_ context.Context, _ api.Module, stack []uint64) { stack[0] = errnoNosys }
func wasiZero(_ context.Context, _ api.Module, stack []uint64)  { stack[0] = errnoSuccess }
func wasiBadf(_ context.Context, _ api.Module, stack []uint64)  { stack[0] = errnoBadf }

// put writes v little-endian at ptr, reporting whether it was in range.
func putU32(mod api.Module, ptr, v uint32) bool { return mod.Memory().WriteUint32Le(ptr, v) }
func putU64(mod api.Module, ptr uint32, v uint64) bool {
	return mod.Memory().WriteUint64Le(ptr, v)
}

// wasiSizesGet answers args_sizes_get and environ_sizes_get: none.
func wasiSizesGet(_ context.Context, mod api.Module, stack []uint64) {
	if !putU32(mod, uint32(stack[0]), 0) || !putU32(mod, uint32(stack[1]), 0) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func wasiClockResGet(_ context.Context, mod api.Module, stack []uint64) {
	if id := uint32(stack[0]); id > 1 {
		stack[0] = errnoInval
		return
	}
	if !putU64(mod, uint32(stack[1]), 1) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// wasiClockTimeGet serves the realtime (0) and monotonic (1) clocks.
func wasiClockTimeGet(_ context.Context, mod api.Module, stack []uint64) {
	var t int64
	switch id := uint32(stack[0]); id {
	case 0:
		t = time.Now().UnixNano()
	case 1:
		t = mono() + 1
	default:
		stack[0] = errnoInval
		return
	}
	if !putU64(mod, uint32(stack[2]), uint64(t)) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// wasiFdClose accepts closing (or setting flags on) the standard streams
// and nothing else.
func wasiFdClose(_ context.Context, _ api.Module, stack []uint64) {
	if uint32(stack[0]) <= 2 {
		stack[0] = errnoSuccess
		return
	}
	stack[0] = errnoBadf
}

// wasiFdstatGet describes the standard streams as character devices.
func wasiFdstatGet(_ context.Context, mod api.Module, stack []uint64) {
	fd, ptr := uint32(stack[0]), uint32(stack[1])
	if fd > 2 {
		stack[0] = errnoBadf
		return
	}
	var st [24]byte
	st[0] = 2 // character_device
	rights := uint64(1 << 6)
	if fd == 0 {
		rights = 1 << 1
	}
	binary.LittleEndian.PutUint64(st[8:], rights)
	if !mod.Memory().Write(ptr, st[:]) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// wasiFdRead reads nothing from standard input (end of file).
func wasiFdRead(_ context.Context, mod api.Module, stack []uint64) {
	if uint32(stack[0]) != 0 {
		stack[0] = errnoBadf
		return
	}
	if !putU32(mod, uint32(stack[3]), 0) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// maxWrite is the most bytes one fd_write takes: a larger write is short,
// as WASI allows, and the guest's own loop (which the fuel meters) writes
// the rest. Without it one call could hand the logger the whole of memory
// 65536 times over.
const maxWrite = 64 << 10

// wasiFdWrite routes standard output and error into the module's logger,
// line by line, through the module's rate limit.
func wasiFdWrite(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	fd, iovs, n, nwritten := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if fd != 1 && fd != 2 {
		stack[0] = errnoBadf
		return
	}
	if n > 1<<16 {
		stack[0] = errnoInval
		return
	}
	vec, ok := mod.Memory().Read(iovs, n*8)
	if !ok {
		stack[0] = errnoFault
		return
	}
	var total uint32
	for i := uint32(0); i < n && total < maxWrite; i++ {
		p := binary.LittleEndian.Uint32(vec[i*8:])
		l := binary.LittleEndian.Uint32(vec[i*8+4:])
		b, ok := mod.Memory().Read(p, l)
		if !ok {
			stack[0] = errnoFault
			return
		}
		b = b[:min(len(b), maxWrite-int(total))]
		inst.spend(len(b))
		if fd == 1 {
			inst.stdout.write(inst.m.guestLog, "stdout", b)
		} else {
			inst.stderr.write(inst.m.guestLog, "stderr", b)
		}
		total += uint32(len(b))
	}
	if !putU32(mod, nwritten, total) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

// wasiPollOneoff never sleeps: every clock subscription fires at once and
// every file descriptor subscription fails with EBADF. A guest cannot hold
// a server goroutine by sleeping; one that busy-waits is stopped by its
// call budget.
func wasiPollOneoff(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	in, out, nsubs, neventsPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if nsubs == 0 || nsubs > 1<<16 {
		stack[0] = errnoInval
		return
	}
	inst.spend(int(nsubs) * (48 + 32))
	subs, ok1 := mod.Memory().Read(in, nsubs*48)
	events, ok2 := mod.Memory().Read(out, nsubs*32)
	if !ok1 || !ok2 {
		stack[0] = errnoFault
		return
	}
	for i := uint32(0); i < nsubs; i++ {
		sub := subs[i*48 : i*48+48]
		ev := events[i*32 : i*32+32]
		tag := sub[8]
		clear(ev)
		copy(ev[0:8], sub[0:8]) // userdata
		if tag != 0 {
			binary.LittleEndian.PutUint16(ev[8:], errnoBadf)
		}
		ev[10] = tag
	}
	if !putU32(mod, neventsPtr, nsubs) {
		stack[0] = errnoFault
		return
	}
	stack[0] = errnoSuccess
}

func wasiProcExit(ctx context.Context, _ api.Module, stack []uint64) {
	inst := callState(ctx)
	inst.abort(KindTrap, fmt.Sprintf("the guest exited with code %d", uint32(stack[0])))
}

// wasiRandomGet fills the buffer from crypto/rand, a quantum at a time so
// that a request for all of memory cannot outrun the call's budget.
func wasiRandomGet(ctx context.Context, mod api.Module, stack []uint64) {
	inst := callState(ctx)
	b, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errnoFault
		return
	}
	for len(b) > 0 {
		chunk := b[:min(len(b), workQuantum)]
		inst.spend(len(chunk))
		_, _ = rand.Read(chunk)
		b = b[len(chunk):]
	}
	stack[0] = errnoSuccess
}
