package wasmhost_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgews/edgews/transcoders/buildwasm"
	"github.com/edgews/edgews/wasmhost"
)

// The test binary builds each Go module it needs once, into tmpDir, and
// shares one runtime whose compilation cache lives in tmpDir too.
var (
	tmpDir  string
	shared  *wasmhost.Runtime
	logs    = &logSink{}
	builtMu sync.Mutex
	built   = map[string][]byte{}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	tmpDir, err = os.MkdirTemp("", "wasmhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmpDir)
	shared, err = wasmhost.NewRuntime(context.Background(), wasmhost.RuntimeConfig{
		CacheDir:      cacheDir(),
		Logger:        slog.New(logs),
		GuestLogLines: 1000,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shared.Close(context.Background())
	return m.Run()
}

func cacheDir() string {
	if d := buildwasm.TestCacheDir(); d != "" {
		return d
	}
	return filepath.Join(tmpDir, "cache")
}

// goModule builds the transcoder package (e.g. "identity") once per test
// binary and returns its bytes.
func goModule(tb testing.TB, name string) []byte {
	tb.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	out := filepath.Join(tmpDir, name+".wasm")
	if err := buildwasm.Build(".", "github.com/edgews/edgews/transcoders/"+name, out); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[name] = b
	return b
}

// logSink is a slog.Handler that keeps records for tests to inspect.
type logSink struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.records) < 100000 {
		l.records = append(l.records, r.Clone())
	}
	return nil
}
func (l *logSink) WithAttrs(attrs []slog.Attr) slog.Handler { return &attrSink{l, attrs} }
func (l *logSink) WithGroup(string) slog.Handler            { return l }

// messages returns the messages logged with module=name.
func (l *logSink) messages(module string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		match := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "module" && a.Value.String() == module {
				match = true
			}
			return true
		})
		if match {
			out = append(out, r.Message)
		}
	}
	return out
}

type attrSink struct {
	l     *logSink
	attrs []slog.Attr
}

func (a *attrSink) Enabled(context.Context, slog.Level) bool { return true }
func (a *attrSink) Handle(ctx context.Context, r slog.Record) error {
	r2 := r.Clone()
	r2.AddAttrs(a.attrs...)
	return a.l.Handle(ctx, r2)
}
func (a *attrSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrSink{a.l, append(append([]slog.Attr{}, a.attrs...), attrs...)}
}
func (a *attrSink) WithGroup(string) slog.Handler { return a }
