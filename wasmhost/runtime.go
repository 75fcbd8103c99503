package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/internal/instrument"
)

// Runtime compiles and runs modules. One per server; safe for concurrent
// use. It owns a wazero runtime with the host functions of the ABI and the
// WASI subset already in place, and a compilation cache.
type Runtime struct {
	log       *slog.Logger
	logLines  int
	wcfg      wazero.RuntimeConfig // without its compilation cache
	compiler  bool
	closeOnce chan struct{}

	// compileMu serialises compilation. wazero v1.12 publishes a module
	// loaded from the file cache before its entry preambles are built, so
	// two concurrent compiles of the same bytes can hand one of them a
	// module that panics when instantiated. Compiles are rare (load,
	// replace), so one at a time costs nothing that matters. It also
	// guards the fields below.
	compileMu sync.Mutex
	wz        wazero.Runtime // where new modules are compiled
	cacheDir  string         // "" when the cache is in memory
	// engines are every wazero runtime made, with its cache, for Close:
	// after a fallback to an in-memory cache, modules compiled before it
	// keep running in the runtime they were compiled in.
	engines []engine
}

type engine struct {
	wz    wazero.Runtime
	cache wazero.CompilationCache
}

// NewRuntime creates a Runtime. It uses wazero's optimizing compiler where
// the platform has one (amd64, arm64) and its interpreter elsewhere.
func NewRuntime(ctx context.Context, cfg RuntimeConfig) (*Runtime, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Runtime{log: log, logLines: cfg.GuestLogLines, closeOnce: make(chan struct{})}
	if r.logLines <= 0 {
		r.logLines = defaultGuestLogLines
	}
	cache, dir := openCache(cfg.CacheDir, log)

	wcfg := wazero.NewRuntimeConfig()
	if cfg.Interpreter {
		wcfg = wazero.NewRuntimeConfigInterpreter()
	}
	r.wcfg = wcfg.WithCoreFeatures(api.CoreFeaturesV2)
	r.compiler = !cfg.Interpreter && compilerSupported()
	wz, err := r.newEngine(ctx, cache)
	if err != nil {
		return nil, err
	}
	r.wz, r.cacheDir = wz, dir
	return r, nil
}

// newEngine makes a wazero runtime with the host modules on cache and
// records it for Close.
func (r *Runtime) newEngine(ctx context.Context, cache wazero.CompilationCache) (wazero.Runtime, error) {
	wz := wazero.NewRuntimeWithConfig(ctx, r.wcfg.WithCompilationCache(cache))
	err := instantiateHostModule(ctx, wz)
	if err == nil {
		err = instantiateWASI(ctx, wz)
	}
	if err != nil {
		_ = wz.Close(ctx)
		_ = cache.Close(ctx)
		return nil, err
	}
	r.engines = append(r.engines, engine{wz, cache})
	return wz, nil
}

// compile compiles wasm and returns it with the wazero runtime it belongs
// to. wazero reports a failure of its file cache (a full disk, a corrupt
// or unreadable entry) as a failure to compile, which must not make a
// valid module unloadable: if compiling fails with the file cache, it is
// tried once more with a fresh in-memory cache, and if that works the
// file cache is abandoned (logged) for every later compile.
func (r *Runtime) compile(ctx context.Context, wasm []byte) (wazero.Runtime, wazero.CompiledModule, error) {
	r.compileMu.Lock()
	defer r.compileMu.Unlock()
	select {
	case <-r.closeOnce:
		return nil, nil, ErrClosed
	default:
	}
	compiled, err := r.wz.CompileModule(ctx, wasm)
	if err == nil || r.cacheDir == "" {
		return r.wz, compiled, err
	}
	wz, merr := r.newEngine(ctx, wazero.NewCompilationCache())
	if merr != nil {
		return nil, nil, err
	}
	compiled, merr = wz.CompileModule(ctx, wasm)
	if merr != nil {
		// The module itself is at fault; the in-memory runtime stays
		// unused until Close.
		return nil, nil, merr
	}
	r.log.Warn("wasmhost: compilation cache failing; caching in memory from now on", "dir", r.cacheDir, "err", err)
	r.wz, r.cacheDir = wz, ""
	return wz, compiled, nil
}

// openCache returns a compilation cache in dir, or an in-memory one when
// dir is "" or unusable (logged).
func openCache(dir string, log *slog.Logger) (wazero.CompilationCache, string) {
	if dir == "" {
		return wazero.NewCompilationCache(), ""
	}
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp(dir, ".probe-*"); err == nil {
			_ = f.Close()
			err = os.Remove(f.Name())
		}
	}
	var cache wazero.CompilationCache
	if err == nil {
		cache, err = wazero.NewCompilationCacheWithDir(dir)
	}
	if err != nil {
		log.Warn("wasmhost: compilation cache directory unusable; caching in memory", "dir", dir, "err", err)
		return wazero.NewCompilationCache(), ""
	}
	abs, _ := filepath.Abs(dir)
	return cache, abs
}

// CacheDir returns the compilation cache directory in use, or "" when the
// cache is in memory.
func (r *Runtime) CacheDir() string {
	r.compileMu.Lock()
	defer r.compileMu.Unlock()
	return r.cacheDir
}

// Compiler reports whether modules run as native code (wazero's optimizing
// compiler) rather than interpreted.
func (r *Runtime) Compiler() bool { return r.compiler }

// Close closes the runtime and every module loaded into it. Modules should
// be closed first (Module.Close waits for calls in flight; this does not).
func (r *Runtime) Close(ctx context.Context) error {
	select {
	case <-r.closeOnce:
		return nil
	default:
		close(r.closeOnce)
	}
	r.compileMu.Lock()
	defer r.compileMu.Unlock()
	var errs []error
	for _, e := range r.engines {
		errs = append(errs, e.wz.Close(ctx), e.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

// requiredExports lists the guest exports every module must have, with
// their parameter counts (all i32) and one i32 result. checkCompiled checks
// the optional ones of ABI 1.1 (the batch exports) too.
var requiredExports = []struct {
	name   string
	params int
}{
	{abi.ExportABIVersion, 0},
	{abi.ExportAlloc, 1},
	{abi.ExportInit, 1},
	{abi.ExportOpen, 1},
	{abi.ExportInbound, 2},
	{abi.ExportOutbound, 2},
	{abi.ExportClose, 2},
	{abi.ExportTimer, 1},
}

// Load compiles wasm, checks it against the ABI, starts a first instance
// (running the guest's initialisation, version check and init with
// cfg.GuestConfig) and returns the module ready to serve calls.
//
// Errors wrap ErrInvalidModule (not a module, missing or mistyped exports,
// imports the host does not provide, memory larger than the cap),
// ErrABIVersion (naming both versions), ErrInit (the first instance failed
// to start) or ErrConfig.
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte, cfg ModuleConfig) (*Module, error) {
	select {
	case <-r.closeOnce:
		return nil, ErrClosed
	default:
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ins, err := instrument.Instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidModule, name, err)
	}
	wz, compiled, err := r.compile(ctx, ins.Wasm)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidModule, name, err)
	}
	if err := checkCompiled(compiled, cfg); err != nil {
		_ = compiled.Close(ctx)
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidModule, name, err)
	}
	m := newModule(r, wz, name, compiled, cfg)
	inst, err := m.pool.get(ctx, m)
	if err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	m.pool.put(inst)
	return m, nil
}

func checkCompiled(c wazero.CompiledModule, cfg ModuleConfig) error {
	for _, f := range c.ImportedFunctions() {
		mod, fname, _ := f.Import()
		switch mod {
		case abi.ImportModule:
			if _, ok := hostFuncs[fname]; !ok {
				return fmt.Errorf("imports %s.%s, which ABI %s does not have", mod, fname, abi.VersionString(abi.Version))
			}
		case wasiModule:
			if _, ok := wasiFuncIndex[fname]; !ok {
				return fmt.Errorf("imports %s.%s, which is not a WASI preview 1 function", mod, fname)
			}
		default:
			return fmt.Errorf("imports from module %q; only %s and %s are available", mod, abi.ImportModule, wasiModule)
		}
	}
	if len(c.ImportedMemories()) > 0 {
		return fmt.Errorf("imports a memory; a guest must define and export its own")
	}
	mems := c.ExportedMemories()
	mem, ok := mems[abi.ExportMemory]
	if !ok {
		return fmt.Errorf("does not export its memory as %q", abi.ExportMemory)
	}
	if mem.Min() > cfg.MaxMemoryPages {
		return fmt.Errorf("needs %d memory pages at start; MaxMemoryPages is %d", mem.Min(), cfg.MaxMemoryPages)
	}
	funcs := c.ExportedFunctions()
	for _, want := range requiredExports {
		f, ok := funcs[want.name]
		if !ok {
			return fmt.Errorf("does not export %s", want.name)
		}
		if !allI32(f.ParamTypes(), want.params) || !allI32(f.ResultTypes(), 1) {
			return fmt.Errorf("exports %s with signature %v -> %v; want %d i32 params -> i32", want.name, f.ParamTypes(), f.ResultTypes(), want.params)
		}
	}
	// The batch exports (ABI 1.1) are optional, but come as a pair.
	_, in := funcs[abi.ExportInboundBatch]
	_, out := funcs[abi.ExportOutboundBatch]
	if in != out {
		return fmt.Errorf("exports only one of %s and %s", abi.ExportInboundBatch, abi.ExportOutboundBatch)
	}
	for _, name := range []string{abi.ExportInboundBatch, abi.ExportOutboundBatch} {
		if f, ok := funcs[name]; ok && (!allI32(f.ParamTypes(), 2) || !allI32(f.ResultTypes(), 1)) {
			return fmt.Errorf("exports %s with signature %v -> %v; want 2 i32 params -> i32", name, f.ParamTypes(), f.ResultTypes())
		}
	}
	if f, ok := funcs[abi.ExportInitialize]; ok && (len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0) {
		return fmt.Errorf("exports %s with parameters or results", abi.ExportInitialize)
	}
	return nil
}

func allI32(types []api.ValueType, n int) bool {
	if len(types) != n {
		return false
	}
	for _, t := range types {
		if t != api.ValueTypeI32 {
			return false
		}
	}
	return true
}
