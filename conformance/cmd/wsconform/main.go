// Command wsconform plays the Autobahn|Testsuite fuzzing-client cases
// against a WebSocket server and reports the verdicts.
//
//	wsconform --url ws://127.0.0.1:9001/echo --cases '1.*,2.*' --exclude '9.*' --outdir reports/
//
// It prints one summary line (counts per verdict and the FAILED case ids)
// and exits with status 1 when any case FAILED, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/edgews/edgews/conformance/autobahn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsconform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: wsconform --url ws://host:port/path [flags]")
		fmt.Fprintln(stderr, "Plays the Autobahn|Testsuite fuzzing-client cases against a WebSocket server.")
		fs.PrintDefaults()
	}
	var (
		opts     autobahn.Options
		cases    = fs.String("cases", "*", "comma-separated case patterns to run, e.g. '1.*,2.*,6.4.1'")
		exclude  = fs.String("exclude", "", "comma-separated case patterns to skip, e.g. '9.*'")
		list     = fs.Bool("list", false, "print the selected case ids with their descriptions and exit")
		verbose  = fs.Bool("v", false, "print one line per case as it finishes")
		insecure = fs.Bool("insecure", false, "do not verify the server certificate (wss:// only)")
	)
	header := http.Header{}
	fs.StringVar(&opts.URL, "url", "", "WebSocket URL of the server under test (required)")
	fs.StringVar(&opts.OutDir, "outdir", "", "directory for index.json, index.html and per-case reports (none if empty)")
	fs.StringVar(&opts.Agent, "agent", "", "server name for the reports (default: its Server header)")
	fs.IntVar(&opts.Parallel, "parallel", 1, "number of cases run at once")
	fs.DurationVar(&opts.Timeout, "timeout", 0, "limit per case (default: the case's own longest wait plus 10s)")
	fs.StringVar(&opts.TestData, "testdata", "", "directory with the official payload files of cases 12.* and 13.* (default: generated stand-ins)")
	fs.Func("header", "extra upgrade request header 'Name: value' (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return errors.New("want 'Name: value'")
		}
		header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wsconform: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	opts.Cases = splitList(*cases)
	opts.Exclude = splitList(*exclude)
	if *list {
		ids, err := autobahn.CaseIDs(opts.Cases, opts.Exclude)
		if err != nil {
			fmt.Fprintln(stderr, "wsconform:", err)
			return exitUsage
		}
		for _, id := range ids {
			desc, _, _ := autobahn.Describe(id)
			fmt.Fprintf(stdout, "%s\t%s\n", id, desc)
		}
		return exitOK
	}
	if opts.URL == "" {
		fmt.Fprintln(stderr, "wsconform: --url is required")
		fs.Usage()
		return exitUsage
	}
	if len(header) > 0 {
		opts.Header = header
	}
	if *insecure {
		opts.TLSConfig = insecureTLS()
	}
	if *verbose {
		opts.OnResult = func(r autobahn.Result) {
			fmt.Fprintf(stdout, "%-8s %-13s %-16s %6dms %s\n", r.ID, r.Behavior, r.BehaviorClose, r.Duration/time.Millisecond, r.Result)
		}
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sum, err := autobahn.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "wsconform:", err)
		if errors.Is(err, context.Canceled) {
			return exitFailed
		}
		return exitUsage
	}
	fmt.Fprintf(stdout, "wsconform: %s: %s\n", sum.Agent, sum)
	if len(sum.Failed()) > 0 {
		return exitFailed
	}
	return exitOK
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
