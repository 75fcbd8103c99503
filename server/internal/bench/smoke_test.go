package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The smoke test runs every mode in a tiny configuration against real
// processes: the edgews binary built once here, and this test binary as
// the reference server (TestMain turns into it when referenceEnv is set).
// It checks correctness only — figures present and positive, no errors —
// never timings.

const referenceEnv = "EDGEWS_BENCH_TEST_REFERENCE"

var edgewsBin string

func TestMain(m *testing.M) {
	if os.Getenv(referenceEnv) == "1" {
		os.Exit(referenceMain(os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "edgews-bench-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	edgewsBin = filepath.Join(dir, "edgews")
	out, err := exec.Command("go", "build", "-o", edgewsBin, "github.com/edgews/edgews/server/cmd/edgews").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building edgews: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// referenceMain is the reference server child: the flags the bench passes.
func referenceMain(args []string) int {
	fs := flag.NewFlagSet("reference", flag.ContinueOnError)
	var o ReferenceOptions
	fs.StringVar(&o.Listen, "listen", "", "")
	fs.StringVar(&o.Admin, "admin-listen", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := RunReference(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func smokeOptions(t *testing.T, mode string) Options {
	o := DefaultOptions(mode)
	o.Edgews = Command{Path: edgewsBin}
	o.Reference = Command{Path: os.Args[0], Env: []string{referenceEnv + "=1"}}
	o.CommandLine = "go test -run TestSmoke/" + mode
	o.Sources, o.ConnectConcurrency = 4, 8
	o.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return o
}

// testWriter sends progress lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestSmoke(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode   string
		edit   func(*Options)
		want   []string // metrics that must be > 0 in every result
		ratios int      // at least this many ratios
	}{
		{ModeIdle, func(o *Options) {
			o.Count, o.Settle = 20, 500*time.Millisecond
			o.Routes = []string{"/echo", "/socket.io"}
		}, []string{"sockets", "server_sockets", "rss_before", "rss_after", "threads"}, 3},
		{ModeEcho, func(o *Options) {
			o.Conns, o.InFlight, o.Duration, o.Warmup, o.Slices = []int{3}, 4, 600*time.Millisecond, 100*time.Millisecond, 2
			o.Routes = []string{"/echo", "/echo-identity", "/socket.io"}
		}, []string{"msgs_per_s", "p50", "p99"}, 5},
		{ModeFanout, func(o *Options) {
			o.Count, o.Rounds, o.Batch, o.Senders, o.Duration = 25, 2, 10, 2, 20*time.Second
			o.Routes = []string{"/echo", "/socket.io"}
		}, []string{"deliveries_per_s", "rounds", "p50"}, 3},
		{ModeHandshake, func(o *Options) {
			o.Workers, o.Duration, o.Slices = 3, 600*time.Millisecond, 2
		}, []string{"upgrades_per_s", "p50"}, 2},
		{ModeCluster, func(o *Options) {
			o.Duration, o.Senders, o.ExistsCount = 300*time.Millisecond, 2, 10
		}, []string{"p50"}, 4},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			o := smokeOptions(t, tt.mode)
			tt.edit(&o)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			rep, err := Run(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			var table bytes.Buffer
			rep.WriteTable(&table)
			t.Log("\n" + table.String())
			if len(rep.Results) == 0 {
				t.Fatal("no results")
			}
			for _, res := range rep.Results {
				if res.Errors != 0 {
					t.Errorf("%s %s %s: %d errors, first: %s", res.Target, res.Route, res.Case, res.Errors, res.FirstError)
				}
				for _, m := range tt.want {
					if v, ok := res.metric(m); !ok || v <= 0 {
						t.Errorf("%s %s %s: %s = %v (present %v), want > 0", res.Target, res.Route, res.Case, m, v, ok)
					}
				}
				if v, ok := res.metric("lost"); ok && v != 0 {
					t.Errorf("%s %s %s: lost %v", res.Target, res.Route, res.Case, v)
				}
			}
			if len(rep.Ratios) < tt.ratios {
				t.Errorf("%d ratios, want at least %d", len(rep.Ratios), tt.ratios)
			}
			checkMode(t, tt.mode, o, rep)
		})
	}
}

// checkMode checks what is particular to a mode.
func checkMode(t *testing.T, mode string, o Options, rep *Report) {
	t.Helper()
	switch mode {
	case ModeIdle:
		for _, res := range rep.Results {
			if v, _ := res.metric("server_sockets"); int(v) != o.Count {
				t.Errorf("%s %s: the server holds %v sockets, want %d", res.Target, res.Route, v, o.Count)
			}
		}
	case ModeEcho:
		if len(rep.Results) != len(o.Routes)*len(o.Conns)*len(o.Targets) {
			t.Errorf("%d results", len(rep.Results))
		}
	case ModeHandshake:
		for _, res := range rep.Results {
			if v, ok := res.metric("backend_calls"); ok && v != 0 {
				t.Errorf("%s %s: the http verifier called its backend %v times with a warm cache", res.Target, res.Case, v)
			}
		}
		if len(rep.Results) != 3 {
			t.Errorf("%d results, want edgews dev, edgews http and the reference", len(rep.Results))
		}
	case ModeCluster:
		// 2 delays x 2 sizes x 2 cross-node rows, 2 sizes x 2 same-node rows, 2 exists rows
		if len(rep.Results) != 8+4+2 {
			t.Errorf("%d results", len(rep.Results))
		}
		for _, res := range rep.Results {
			if strings.HasPrefix(res.Case, "exists") {
				if v, _ := res.metric("queries_per_s"); v <= 0 {
					t.Errorf("%s: no queries", res.Case)
				}
				continue
			}
			if v, _ := res.metric("deliveries_per_s"); v <= 0 {
				t.Errorf("%s: no deliveries", res.Case)
			}
		}
	}
}
