package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgews/edgews/server/internal/bench"
)

// newBenchCmd is `edgews bench MODE`: the load tool and benchmark harness
// (server/internal/bench). Each mode is a subcommand with its own
// defaults; the hidden `reference-server` subcommand is the reference the
// bench starts beside edgews.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench MODE [flags]",
		Short: "Measure edgews beside a bare fasthttp/websocket reference server (loopback only)",
		Long: `bench starts edgews (this binary, "serve" with a generated config) and a
reference server (bare fasthttp + fasthttp/websocket, same module versions)
as separate processes on 127.0.0.1, drives them from 127.0.0.2 on, and
prints each target's figures and the ratios edgews/reference, measured in
the same run, with the machine and the exact command line.

Modes:
  idle       hold N sockets (one 64 B echo each); server RSS growth per socket
  echo       C connections x W in flight x S bytes; msgs/s, p50/p99/p999
  fanout     N users, bulk send of one message to each; deliveries/s, latency
  handshake  connect, upgrade, close with 32 workers; dev and http verifier
  cluster    3 local nodes: cross-node delivery latency/throughput, exists`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, mode := range bench.Modes {
		cmd.AddCommand(newBenchModeCmd(mode))
	}
	cmd.AddCommand(newReferenceServerCmd())
	return cmd
}

func newBenchModeCmd(mode string) *cobra.Command {
	o := bench.DefaultOptions(mode)
	var (
		target                       = "both"
		asJSON, quiet                bool
		edgewsBin, delays, targetLog string
	)
	short := map[string]string{
		bench.ModeIdle:      "Server RSS per idle authenticated socket",
		bench.ModeEcho:      "Echo throughput and latency",
		bench.ModeFanout:    "Bulk-send fan-out to one socket per user",
		bench.ModeHandshake: "Upgrades per second (dev and http verifier)",
		bench.ModeCluster:   "Cross-node delivery and exists on a local 3-node cluster",
	}[mode]
	cmd := &cobra.Command{
		Use:   mode + " [flags]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch target {
			case "both":
				o.Targets = []string{"edgews", "reference"}
			default:
				o.Targets = []string{target}
			}
			if mode == bench.ModeCluster {
				o.Delays = o.Delays[:0]
				for _, d := range strings.Split(delays, ",") {
					d = strings.TrimSpace(d)
					if d == "default" {
						o.Delays = append(o.Delays, -1)
						continue
					}
					v, err := time.ParseDuration(d)
					if err != nil || v < 0 {
						return fmt.Errorf("--delays %q: a duration (0, 5ms) or default", d)
					}
					o.Delays = append(o.Delays, v)
				}
			}
			exe := edgewsBin
			if exe == "" {
				var err error
				if exe, err = os.Executable(); err != nil {
					return fmt.Errorf("bench: finding this executable: %w", err)
				}
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: finding this executable: %w", err)
			}
			o.Edgews = bench.Command{Path: exe}
			o.Reference = bench.Command{Path: self, Args: []string{"bench", "reference-server"}}
			o.CommandLine = "edgews " + bench.QuoteArgs(os.Args[1:])
			level := slog.LevelInfo
			if quiet {
				level = slog.LevelWarn
			}
			o.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if targetLog != "" {
				f, err := os.Create(targetLog)
				if err != nil {
					return err
				}
				defer f.Close()
				o.TargetLog = f
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Run(ctx, o)
			if rep != nil && (err == nil || len(rep.Results) > 0) {
				out := cmd.OutOrStdout()
				if asJSON {
					rep.WriteJSON(out)
				} else {
					rep.WriteTable(out)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", target, "edgews, reference or both")
	f.StringSliceVar(&o.Routes, "route", o.Routes, "edgews routes: /echo, /echo-identity, /socket.io (comma separated; the first is the baseline)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress lines on stderr")
	f.StringVar(&targetLog, "target-log", "", "write the target processes' logs to this file")
	f.StringVar(&edgewsBin, "edgews-bin", "", "edgews executable to measure (default: this one), e.g. an older build for before/after")
	f.IntVar(&o.Sources, "sources", o.Sources, "client source addresses 127.0.0.2 onwards")
	f.IntVar(&o.ConnectConcurrency, "connect-concurrency", o.ConnectConcurrency, "connections set up in parallel")
	switch mode {
	case bench.ModeIdle:
		f.IntVar(&o.Count, "count", o.Count, "idle sockets (at most 19000: the open-file limit is 20000 per process)")
		f.IntVar(&o.Size, "size", o.Size, "bytes of the one echo each socket does")
		f.DurationVar(&o.Settle, "settle", o.Settle, "how long RSS is sampled before the last sample is taken")
	case bench.ModeEcho:
		f.IntSliceVar(&o.Conns, "conns", o.Conns, "connection counts, one measurement each")
		f.IntVar(&o.InFlight, "inflight", o.InFlight, "messages in flight per connection")
		f.IntVar(&o.Size, "size", o.Size, "message size in bytes (text)")
		f.DurationVar(&o.Duration, "duration", o.Duration, "measurement per target, route and connection count")
		f.DurationVar(&o.Warmup, "warmup", o.Warmup, "uncounted warm-up before each measurement")
		f.IntVar(&o.Slices, "slices", o.Slices, "split each measurement into this many slices, the targets taking turns")
	case bench.ModeFanout:
		f.IntVar(&o.Count, "count", o.Count, "users, one socket each (at most 19000)")
		f.IntVar(&o.Rounds, "rounds", o.Rounds, "bulk sends of one message to every user")
		f.IntVar(&o.WarmupRounds, "warmup-rounds", o.WarmupRounds, "uncounted bulk sends on each fresh target before its counted rounds")
		f.IntVar(&o.Slices, "slices", o.Slices, "split the rounds into this many slices, the targets taking turns, each on a fresh process")
		f.IntVar(&o.Batch, "batch", o.Batch, "send requests per bulk request")
		f.IntVar(&o.Senders, "senders", o.Senders, "bulk requests in parallel")
		f.IntVar(&o.Size, "size", o.Size, "message size in bytes")
		f.DurationVar(&o.Duration, "duration", o.Duration, "bound on all rounds of one target")
	case bench.ModeHandshake:
		f.IntVar(&o.Workers, "workers", o.Workers, "parallel connect-upgrade-close loops")
		f.DurationVar(&o.Duration, "duration", o.Duration, "measurement per target and verifier")
		f.StringSliceVar(&o.Verifiers, "verifier", o.Verifiers, "edgews session verifiers: dev, http")
		f.IntVar(&o.Slices, "slices", o.Slices, "split each measurement into this many slices, the targets taking turns")
	case bench.ModeCluster:
		f.IntSliceVar(&o.Sizes, "sizes", o.Sizes, "message sizes in bytes")
		f.StringVar(&delays, "delays", "0,default", "cluster.remote.delay settings, reloaded between phases")
		f.IntVar(&o.Senders, "senders", o.Senders, "parallel senders in the throughput phases")
		f.IntVar(&o.ExistsCount, "exists-count", o.ExistsCount, "exists queries per measurement")
		f.DurationVar(&o.Duration, "duration", o.Duration, "each phase")
	}
	if mode == bench.ModeCluster {
		f.MarkHidden("target")
		f.MarkHidden("route")
	}
	return cmd
}

// newReferenceServerCmd runs the reference server until SIGTERM; the bench
// starts it as a child process.
func newReferenceServerCmd() *cobra.Command {
	var o bench.ReferenceOptions
	cmd := &cobra.Command{
		Use:    "reference-server",
		Short:  "Run the bench's reference server (bare fasthttp + fasthttp/websocket echo)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, a := range []string{o.Listen, o.Admin} {
				host, _, err := net.SplitHostPort(a)
				if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
					return fmt.Errorf("reference-server: %q is not a loopback address", a)
				}
			}
			o.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return bench.RunReference(ctx, o)
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:9080", "WebSocket address (loopback)")
	cmd.Flags().StringVar(&o.Admin, "admin-listen", "127.0.0.1:9081", "admin address (loopback)")
	return cmd
}
