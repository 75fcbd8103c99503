package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgews/edgews/server"
)

// version is set at build time with -ldflags "-X main.version=..."; by
// default it comes from the module build info.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// serveFlags are the flags of `edgews serve` (also accepted by plain
// `edgews`). Each can also be set by the environment variable named in its
// help; flags beat the environment, which beats the config file.
type serveFlags struct {
	config      string
	listen      string
	adminListen string
	adminToken  string
	dev         bool
	logLevel    string
	logFormat   string
	nodeName    string

	clusterBind         string
	clusterAdvertise    string
	clusterJoin         []string
	clusterKey          string
	clusterInternalBind string
}

func (f *serveFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.config, "config", "c", "", "YAML config file; without one edgews starts in dev mode (env EDGEWS_CONFIG)")
	fs.StringVar(&f.listen, "listen", "", `address for browsers (default ":8080"; env EDGEWS_LISTEN)`)
	fs.StringVar(&f.adminListen, "admin-listen", "", `admin API address, "" in the file disables it (default "127.0.0.1:8081"; env EDGEWS_ADMIN_LISTEN)`)
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token for the admin API; required off loopback (env EDGEWS_ADMIN_TOKEN)")
	fs.BoolVar(&f.dev, "dev", false, "dev mode: dev verifier, POST /dev/login, demo page; never in production (env EDGEWS_DEV)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default info; env EDGEWS_LOG_LEVEL)")
	fs.StringVar(&f.logFormat, "log-format", "", "text or json (default text; env EDGEWS_LOG_FORMAT)")
	fs.StringVar(&f.nodeName, "node-name", "", "this node's name, unique in the cluster (default: host name; env EDGEWS_NODE_NAME)")
	fs.StringVar(&f.clusterBind, "cluster-bind", "", "host:port to gossip on; enables clustering (env EDGEWS_CLUSTER_BIND)")
	fs.StringVar(&f.clusterAdvertise, "cluster-advertise", "", "host:port other nodes reach this node's gossip at (default: --cluster-bind; env EDGEWS_CLUSTER_ADVERTISE)")
	fs.StringArrayVar(&f.clusterJoin, "cluster-join", nil, "host:port of a node to join; repeatable; retried until one answers (env EDGEWS_CLUSTER_JOIN, comma separated)")
	fs.StringVar(&f.clusterKey, "cluster-key", "", "base64 16/24/32-byte key encrypting all gossip; required off loopback (env EDGEWS_CLUSTER_KEY)")
	fs.StringVar(&f.clusterInternalBind, "cluster-internal-bind", "", "host:port of the node-to-node payload path (default: the gossip host, a free port; env EDGEWS_CLUSTER_INTERNAL_BIND)")
}

// fromEnv fills flags not given on the command line from EDGEWS_* variables.
func fromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || err != nil {
			return
		}
		name := "EDGEWS_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			values := []string{v}
			if fl.Value.Type() == "stringArray" {
				values = strings.Split(v, ",")
			}
			for _, one := range values {
				if e := fs.Set(fl.Name, strings.TrimSpace(one)); e != nil {
					err = fmt.Errorf("environment %s=%q: %w", name, v, e)
				}
			}
		}
	})
	return err
}

// loadConfig builds the effective config: defaults, then the file, then
// environment and flags.
func (f *serveFlags) loadConfig(fs *pflag.FlagSet) (server.Config, error) {
	var cfg server.Config
	if f.config != "" {
		c, err := server.LoadConfig(f.config)
		if err != nil {
			return cfg, err
		}
		cfg = c
	} else {
		cfg = server.DevConfig()
	}
	if fs.Changed("dev") && f.dev {
		cfg.Dev = true
		if cfg.Session.Verifier == "" {
			cfg.Session.Verifier = "dev"
		}
	}
	if fs.Changed("listen") {
		cfg.Listen = f.listen
	}
	if fs.Changed("admin-listen") {
		cfg.Admin.Listen = f.adminListen
	}
	if fs.Changed("admin-token") {
		cfg.Admin.Token, cfg.Admin.TokenFile = f.adminToken, ""
	}
	if fs.Changed("log-level") {
		cfg.Log.Level = f.logLevel
	}
	if fs.Changed("log-format") {
		cfg.Log.Format = f.logFormat
	}
	if fs.Changed("node-name") {
		cfg.NodeName = f.nodeName
	}
	if fs.Changed("cluster-bind") {
		cfg.Cluster.Bind = f.clusterBind
	}
	if fs.Changed("cluster-advertise") {
		cfg.Cluster.Advertise = f.clusterAdvertise
	}
	if fs.Changed("cluster-join") {
		cfg.Cluster.Join = f.clusterJoin
	}
	if fs.Changed("cluster-key") {
		cfg.Cluster.EncryptKey, cfg.Cluster.EncryptKeyFile = f.clusterKey, ""
	}
	if fs.Changed("cluster-internal-bind") {
		cfg.Cluster.InternalBind = f.clusterInternalBind
	}
	return cfg, cfg.Validate()
}

func newLogger(cfg server.Config, level *slog.LevelVar) *slog.Logger {
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	fs := cmd.Flags()
	if err := fromEnv(fs); err != nil {
		return err
	}
	cfg, err := f.loadConfig(fs)
	if err != nil {
		return err
	}
	var level slog.LevelVar
	log := newLogger(cfg, &level)
	log.Info("edgews", "version", buildVersion(), "config", orNone(f.config), "dev", cfg.Dev)
	srv, err := server.New(cfg, server.WithLogger(log), server.WithVersion(buildVersion()))
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for sig := range sigs {
		if sig == syscall.SIGHUP {
			reload(log, &level, f, fs, srv)
			continue
		}
		log.Info("signal received: draining", "signal", sig.String())
		signal.Stop(sigs)
		return srv.Shutdown(context.Background())
	}
	return nil
}

// reload re-reads the config; on error the running config stays.
func reload(log *slog.Logger, level *slog.LevelVar, f *serveFlags, fs *pflag.FlagSet, srv *server.Server) {
	if f.config == "" {
		log.Warn("SIGHUP ignored: no config file to reload (started without --config)")
		return
	}
	cfg, err := f.loadConfig(fs)
	if err == nil {
		_, err = srv.Reload(cfg)
	}
	if err != nil {
		log.Error("reload failed; the running configuration stays", "error", err)
		return
	}
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
}

func orNone(s string) string {
	if s == "" {
		return "(none: dev mode defaults)"
	}
	return s
}

func newRootCmd() *cobra.Command {
	var f serveFlags
	root := &cobra.Command{
		Use:   "edgews",
		Short: "edgews: a WebAssembly-extensible WebSocket edge server",
		Long: `edgews accepts WebSockets from browsers, authenticates every upgrade against your
session system, binds each socket to its session's user and context, and lets
backends reach any user's sockets through the admin API.

With no flags it starts in dev mode on :8080 (admin API on 127.0.0.1:8081).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return runServe(cmd, &f) },
	}
	f.register(root.Flags())

	var sf serveFlags
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (the default command)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runServe(cmd, &sf) },
	}
	sf.register(serve.Flags())
	root.AddCommand(serve)
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "edgews", buildVersion()) },
	})
	root.AddCommand(newConfigCmd())
	root.AddCommand(newTranscoderCmd())
	root.AddCommand(newBenchCmd())
	for _, c := range newClientCmds() {
		root.AddCommand(c)
	}
	return root
}
