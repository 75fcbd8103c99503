package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/edgews/edgews/transcoders/builtin"
	"github.com/edgews/edgews/wasmhost"
)

// builtinModule returns an embedded transcoder module.
func builtinModule(name string) ([]byte, bool) { return builtin.Get(name) }

// wasmState is the server's WebAssembly side: one runtime, one registry of
// named transcoders, and what each name was last loaded from.
type wasmState struct {
	rt  *wasmhost.Runtime
	reg *wasmhost.Registry

	mu     sync.Mutex
	loaded map[string]loadedModule // by name: what the config last asked for
}

type loadedModule struct {
	source string // file path or "builtin:<name>"
	hash   string // sha256 of the bytes loaded from source
	cfg    wasmhost.ModuleConfig
	mtime  time.Time
	size   int64
}

func moduleConfig(tc TranscoderConfig) wasmhost.ModuleConfig {
	return wasmhost.ModuleConfig{
		GuestConfig:    tc.Config,
		CallTimeout:    tc.CallTimeout,
		MaxMemoryPages: uint32(tc.MaxMemory / (64 << 10)),
		MaxEmitBytes:   int(tc.MaxEmit),
		MaxInstances:   tc.MaxInstances,
	}
}

// readModule reads a transcoder's bytes from its file or the binary.
func readModule(tc TranscoderConfig) (wasm []byte, source string, fi os.FileInfo, err error) {
	if tc.Builtin != "" {
		b, ok := builtinModule(tc.Builtin)
		if !ok {
			return nil, "", nil, fmt.Errorf("no embedded module %q", tc.Builtin)
		}
		return b, "builtin:" + tc.Builtin, nil, nil
	}
	fi, err = os.Stat(tc.File)
	if err != nil {
		return nil, "", nil, err
	}
	b, err := os.ReadFile(tc.File)
	return b, tc.File, fi, err
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// syncTranscoders loads or swaps every configured transcoder whose source,
// bytes or settings changed since it was last loaded from the config. On
// any error nothing is half-applied for that name: its old module keeps
// serving and the error names the transcoder.
func (s *Server) syncTranscoders(cfg *Config) error {
	if len(cfg.Transcoders) == 0 {
		return nil
	}
	if s.wasm == nil {
		rt, err := wasmhost.NewRuntime(s.ctx, wasmhost.RuntimeConfig{CacheDir: cfg.WASM.CacheDir, Logger: s.log.With("component", "wasm")})
		if err != nil {
			return fmt.Errorf("wasm runtime: %w", err)
		}
		s.wasm = &wasmState{rt: rt, reg: wasmhost.NewRegistry(rt), loaded: map[string]loadedModule{}}
	}
	w := s.wasm
	for name, tc := range cfg.Transcoders {
		wasm, source, fi, err := readModule(tc)
		if err != nil {
			return fmt.Errorf("%w: transcoders.%s: %w", ErrConfig, name, err)
		}
		mc := moduleConfig(tc)
		lm := loadedModule{source: source, hash: hashOf(wasm), cfg: mc}
		if fi != nil {
			lm.mtime, lm.size = fi.ModTime(), fi.Size()
		}
		w.mu.Lock()
		prev, had := w.loaded[name]
		w.mu.Unlock()
		if had && prev.source == lm.source && prev.hash == lm.hash && prev.cfg == lm.cfg {
			continue
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		_, err = w.reg.Set(ctx, name, wasm, mc)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: transcoders.%s (%s): %w", ErrConfig, name, source, err)
		}
		w.mu.Lock()
		w.loaded[name] = lm
		w.mu.Unlock()
		verb := "loaded"
		if had {
			verb = "swapped"
		}
		s.log.Info("transcoder "+verb, "transcoder", name, "source", source, "sha256", lm.hash, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// replaceTranscoder swaps a transcoder for uploaded bytes (admin API). The
// upload serves until the configured source changes.
func (s *Server) replaceTranscoder(ctx context.Context, name string, wasm []byte) (string, error) {
	if s.wasm == nil || s.wasm.reg.Get(name) == nil {
		return "", fmt.Errorf("%w: no transcoder %q", ErrInvalidTarget, name)
	}
	if err := s.wasm.reg.Replace(ctx, name, wasm); err != nil {
		s.log.Warn("transcoder replacement refused; the current module keeps serving", "transcoder", name, "error", err)
		return "", err
	}
	h := hashOf(wasm)
	s.log.Info("transcoder swapped", "transcoder", name, "source", "admin API", "sha256", h)
	return h, nil
}

// watchTranscoders reloads watched transcoder files when they change.
func (s *Server) watchTranscoders() {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		cfg := s.cfg.Load()
		for name, tc := range cfg.Transcoders {
			if !tc.Watch || s.wasm == nil {
				continue
			}
			fi, err := os.Stat(tc.File)
			if err != nil {
				continue
			}
			s.wasm.mu.Lock()
			prev := s.wasm.loaded[name]
			s.wasm.mu.Unlock()
			if fi.ModTime().Equal(prev.mtime) && fi.Size() == prev.size {
				continue
			}
			s.reloadMu.Lock()
			one := &Config{Transcoders: map[string]TranscoderConfig{name: tc}, WASM: cfg.WASM}
			if err := s.syncTranscoders(one); err != nil {
				s.log.Error("transcoder file changed but the new module was refused; the current one keeps serving", "transcoder", name, "error", err)
				// Remember the refused file so it is not retried every tick.
				s.wasm.mu.Lock()
				prev.mtime, prev.size = fi.ModTime(), fi.Size()
				s.wasm.loaded[name] = prev
				s.wasm.mu.Unlock()
			}
			s.reloadMu.Unlock()
		}
	}
}

// TranscoderInfo describes a loaded transcoder (admin API).
type TranscoderInfo struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Swaps  uint64 `json:"swaps"`
	Calls  uint64 `json:"calls"`
	// BatchCalls of the calls carried BatchMessages messages (a read
	// round's worth each).
	BatchCalls    uint64            `json:"batch_calls"`
	BatchMessages uint64            `json:"batch_messages"`
	Failures      map[string]uint64 `json:"failures"`
	Instances     int               `json:"instances"`
}

// Transcoders lists the loaded transcoders.
func (s *Server) Transcoders() []TranscoderInfo {
	if s.wasm == nil {
		return nil
	}
	var out []TranscoderInfo
	for _, name := range s.wasm.reg.Names() {
		t := s.wasm.reg.Get(name)
		if t == nil {
			continue
		}
		st := t.Stats()
		s.wasm.mu.Lock()
		lm := s.wasm.loaded[name]
		s.wasm.mu.Unlock()
		ti := TranscoderInfo{Name: name, Source: lm.source, SHA256: lm.hash, Swaps: t.Swaps(), Calls: st.Calls, BatchCalls: st.BatchCalls, BatchMessages: st.BatchMessages, Instances: st.Instances, Failures: map[string]uint64{}}
		for k, v := range st.Failures {
			if v > 0 {
				ti.Failures[wasmhost.Kind(k).String()] = v
			}
		}
		out = append(out, ti)
	}
	return out
}
