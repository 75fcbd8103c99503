package wasmhost

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
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
