package wasmhost

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// RuntimeConfig configures a Runtime. The zero value is valid.
type RuntimeConfig struct {
	// CacheDir is the directory of wazero's compilation cache, so that a
	// restart does not recompile modules. "" keeps the cache in memory. If
	// the directory cannot be created or written, NewRuntime logs why and
	// falls back to an in-memory cache.
	CacheDir string
	// Logger receives the runtime's own messages and the guests' log lines
	// (stdout, stderr and the log import), each with the module's name.
	// nil discards them.
	Logger *slog.Logger
	// GuestLogLines is how many guest log lines per second each module may
	// write to Logger; lines beyond it are counted and dropped, and the
	// count is logged once the second is over. 0 means 20.
	GuestLogLines int
	// Interpreter forces wazero's interpreter even where the optimizing
	// compiler is available. For tests and for platforms wazero's compiler
	// does not support; much slower.
	Interpreter bool
}

// ModuleConfig configures one loaded module. Zero fields take the defaults
// listed with them.
type ModuleConfig struct {
	// GuestConfig is the opaque string handed to the guest's init export
	// in every instance.
	GuestConfig string
	// CallTimeout is the wall-clock budget of one call, or of each message
	// of a batch call (ABI.md, "Limits and the call budget"). A call still
	// running then is stopped at its next function entry or loop head and
	// fails with KindTimeout. Default 250ms.
	CallTimeout time.Duration
	// InitTimeout is the budget for starting an instance: the guest's
	// runtime initialisation, ABI version and init exports. Default 5s.
	InitTimeout time.Duration
	// MaxMemoryPages caps the linear memory of each instance, in 64 KiB
	// pages. A guest that needs more fails with KindMemoryLimit. Default
	// 512 (32 MiB).
	MaxMemoryPages uint32
	// MaxEmitBytes caps the bytes one call (one message of a batch call)
	// may pass to WriteFrame and Deliver together; the call that exceeds it
	// fails with KindEmitLimit. Default 4 MiB.
	MaxEmitBytes int
	// MaxInstances bounds the instance pool. Calls beyond it wait for a
	// free instance (or their context). Default 2 × GOMAXPROCS.
	MaxInstances int
}

// Defaults for ModuleConfig.
const (
	DefaultCallTimeout    = 250 * time.Millisecond
	DefaultInitTimeout    = 5 * time.Second
	DefaultMaxMemoryPages = 512
	DefaultMaxEmitBytes   = 4 << 20
	defaultGuestLogLines  = 20
)

// withDefaults validates c and fills in its zero fields.
func (c ModuleConfig) withDefaults() (ModuleConfig, error) {
	switch {
	case c.CallTimeout < 0:
		return c, fmt.Errorf("%w: CallTimeout %v is negative", ErrConfig, c.CallTimeout)
	case c.InitTimeout < 0:
		return c, fmt.Errorf("%w: InitTimeout %v is negative", ErrConfig, c.InitTimeout)
	case c.MaxMemoryPages > 65536:
		return c, fmt.Errorf("%w: MaxMemoryPages %d is above 65536 (4 GiB)", ErrConfig, c.MaxMemoryPages)
	case c.MaxEmitBytes < 0:
		return c, fmt.Errorf("%w: MaxEmitBytes %d is negative", ErrConfig, c.MaxEmitBytes)
	case c.MaxInstances < 0:
		return c, fmt.Errorf("%w: MaxInstances %d is negative", ErrConfig, c.MaxInstances)
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.InitTimeout == 0 {
		c.InitTimeout = DefaultInitTimeout
	}
	if c.MaxMemoryPages == 0 {
		c.MaxMemoryPages = DefaultMaxMemoryPages
	}
	if c.MaxEmitBytes == 0 {
		c.MaxEmitBytes = DefaultMaxEmitBytes
	}
	if c.MaxInstances == 0 {
		c.MaxInstances = max(2, 2*runtime.GOMAXPROCS(0))
	}
	return c, nil
}
