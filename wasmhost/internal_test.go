package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/edgews/edgews/wasmhost/abi"
	"github.com/edgews/edgews/wasmhost/internal/wasmbuild"
)

// TestWASISignatures checks the WASI table against wazero's own
// implementation of preview 1: same functions, same signatures.
func TestWASISignatures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	compiled, err := wasi_snapshot_preview1.NewBuilder(rt).Compile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := compiled.ExportedFunctions()
	if len(want) != len(wasiFuncs) {
		t.Errorf("wazero has %d WASI functions, the table %d", len(want), len(wasiFuncs))
	}
	for _, f := range wasiFuncs {
		def, ok := want[f.name]
		if !ok {
			t.Errorf("%s is not a WASI preview 1 function", f.name)
			continue
		}
		var params []api.ValueType
		for _, c := range f.params {
			if c == 'l' {
				params = append(params, api.ValueTypeI64)
			} else {
				params = append(params, api.ValueTypeI32)
			}
		}
		if !bytes.Equal(params, def.ParamTypes()) || len(def.ResultTypes()) != f.results {
			t.Errorf("%s: table has %v -> %d results, wazero %v -> %v", f.name, params, f.results, def.ParamTypes(), def.ResultTypes())
		}
	}
}

func TestStripSession(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                              "",
		"EIO=4&transport=websocket":     "EIO=4&transport=websocket",
		"session=abc":                   "",
		"EIO=3&session=abc&transport=x": "EIO=3&transport=x",
		"session=a&session=b&x=1":       "x=1",
		"sessionid=keep&x=session":      "sessionid=keep&x=session",
	} {
		if got := stripSession(in); got != want {
			t.Errorf("stripSession(%q) = %q, want %q", in, got, want)
		}
	}
}

// recordHandler keeps messages.
type recordHandler struct{ msgs *[]string }

func (r recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (r recordHandler) Handle(_ context.Context, rec slog.Record) error {
	s := rec.Message
	rec.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
	*r.msgs = append(*r.msgs, s)
	return nil
}
func (r recordHandler) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r recordHandler) WithGroup(string) slog.Handler      { return r }

func TestGuestLogLimits(t *testing.T) {
	t.Parallel()
	var msgs []string
	l := newLineLimiter(slog.New(recordHandler{&msgs}), 3)
	var b lineBuffer
	b.write(l, "stdout", []byte("one\ntwo\nthr"))
	b.write(l, "stdout", []byte("ee\nfour\nfive\n"))
	long := strings.Repeat("x", 3000)
	b.write(l, "stderr", []byte(long))
	l.flush()
	want := []string{"guest: one stream=stdout", "guest: two stream=stdout", "guest: three stream=stdout", "guest log lines dropped count=4"}
	if strings.Join(msgs, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", msgs, want)
	}
	// A long line is cut into lines of at most 1 KiB.
	msgs = nil
	l2 := newLineLimiter(slog.New(recordHandler{&msgs}), 100)
	var b2 lineBuffer
	b2.write(l2, "stderr", []byte(long+"\n"))
	if len(msgs) != 3 || len(msgs[0]) != len("guest: ")+1024+len(" stream=stderr") {
		t.Fatalf("long line: %d messages, first %d bytes", len(msgs), len(msgs[0]))
	}
}

func TestCacheFallback(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	log := slog.New(recordHandler{&msgs})
	rt, err := NewRuntime(context.Background(), RuntimeConfig{CacheDir: filepath.Join(file, "cache"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	if rt.CacheDir() != "" || len(msgs) != 1 || !strings.Contains(msgs[0], "caching in memory") {
		t.Fatalf("cache dir %q, log %q", rt.CacheDir(), msgs)
	}
	good := filepath.Join(dir, "good")
	rt2, err := NewRuntime(context.Background(), RuntimeConfig{CacheDir: good})
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close(context.Background())
	if rt2.CacheDir() != good {
		t.Fatalf("cache dir = %q, want %q", rt2.CacheDir(), good)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := ModuleConfig{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.CallTimeout != DefaultCallTimeout || c.InitTimeout != DefaultInitTimeout || c.MaxMemoryPages != DefaultMaxMemoryPages ||
		c.MaxEmitBytes != DefaultMaxEmitBytes || c.MaxInstances < 2 {
		t.Fatalf("defaults = %+v", c)
	}
	for _, bad := range []ModuleConfig{
		{CallTimeout: -time.Second}, {InitTimeout: -1}, {MaxMemoryPages: 70000}, {MaxEmitBytes: -1}, {MaxInstances: -1},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestCallErrorText(t *testing.T) {
	t.Parallel()
	e := &CallError{Module: "m", Func: "inbound", Kind: KindGuestStatus, Status: 7, Detail: "d"}
	if e.Error() != "wasmhost: m.inbound: guest_status 7: d" || e.Reason() != "transcoder guest_status" || e.CloseCode() != 1011 {
		t.Fatalf("%q %q %d", e.Error(), e.Reason(), e.CloseCode())
	}
	for k := Kind(1); k < kindCount; k++ {
		if strings.HasPrefix(k.String(), "kind(") || len((&CallError{Kind: k}).Reason()) > 123 {
			t.Errorf("kind %d: %q", k, k.String())
		}
	}
	if Kind(200).String() != "kind(200)" {
		t.Fatal(Kind(200).String())
	}
}

// minimalGuest is the smallest module the host accepts: an ABI 1.0 guest
// whose every export returns 0 (alloc returns 1024), importing nothing.
func minimalGuest() []byte {
	i32 := byte(wasmbuild.I32)
	one := wasmbuild.FuncType{Params: []byte{i32}, Results: []byte{i32}}
	two := wasmbuild.FuncType{Params: []byte{i32, i32}, Results: []byte{i32}}
	ret := func(v int32) []byte { return wasmbuild.I32Const(nil, v) }
	m := wasmbuild.Module{
		MemoryPages: 1,
		Funcs: []wasmbuild.Func{
			{Type: wasmbuild.FuncType{Results: []byte{i32}}, Code: ret(int32(abi.PackVersion(1, 0, 0))), Export: abi.ExportABIVersion},
			{Type: one, Code: ret(1024), Export: abi.ExportAlloc},
			{Type: one, Code: ret(0), Export: abi.ExportInit},
			{Type: one, Code: ret(0), Export: abi.ExportOpen},
			{Type: two, Code: ret(0), Export: abi.ExportInbound},
			{Type: two, Code: ret(0), Export: abi.ExportOutbound},
			{Type: two, Code: ret(0), Export: abi.ExportClose},
			{Type: one, Code: ret(0), Export: abi.ExportTimer},
		},
	}
	return m.Bytes()
}

// TestCacheFailsLater breaks the compilation cache after the runtime has
// checked it (as a disk that fills up, or a corrupt entry, would): wazero
// then reports the cache's error as a failure to compile, which used to
// make every module unloadable. The runtime now compiles with an
// in-memory cache instead, says so once, and keeps loading modules; a
// module that is really invalid is still refused.
func TestCacheFailsLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	var msgs []string
	rt, err := NewRuntime(ctx, RuntimeConfig{CacheDir: dir, Logger: slog.New(recordHandler{&msgs})})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	// Replace wazero's versioned directory inside dir with a file: every
	// read and write of a cache entry now fails with ENOTDIR.
	subs, err := filepath.Glob(filepath.Join(dir, "wazero-*"))
	if err != nil || len(subs) != 1 {
		t.Fatalf("cache directory layout: %v %v", subs, err)
	}
	if err := os.RemoveAll(subs[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(subs[0], []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		m, err := rt.Load(ctx, "after-the-break", minimalGuest(), ModuleConfig{})
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		if err := m.Inbound(ctx, nopHost{}, false, []byte("x")); err != nil {
			t.Fatal(err)
		}
		_ = m.Close(ctx)
	}
	if rt.CacheDir() != "" || len(msgs) != 1 || !strings.Contains(msgs[0], "caching in memory") {
		t.Fatalf("cache dir %q, log %q", rt.CacheDir(), msgs)
	}
	if _, err := rt.Load(ctx, "broken", []byte("\x00asm\x01\x00\x00\x00\x01\x01"), ModuleConfig{}); !errors.Is(err, ErrInvalidModule) {
		t.Fatalf("an invalid module: %v", err)
	}
}

type nopHost struct{}

func (nopHost) WriteFrame(bool, []byte) error  { return nil }
func (nopHost) Deliver(bool, []byte) error     { return nil }
func (nopHost) Close(uint16, string)           {}
func (nopHost) Attr(string) ([]byte, bool)     { return nil, false }
func (nopHost) SetAttr(string, []byte)         {}
func (nopHost) ArmTimer(uint32, time.Duration) {}
