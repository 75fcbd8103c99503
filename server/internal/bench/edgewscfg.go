package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The echo routes every generated edgews config serves (it also serves
// /ws, without echo, for the cluster mode). The bench accepts these (and
// /socket.io as a short form of /socket.io/*) for --route.
var benchRoutes = []string{"/echo", "/echo-identity", "/socket.io/*"}

// knownRoute normalises a --route value.
func knownRoute(r string) (string, error) {
	switch r {
	case "/socket.io", "/socket.io/":
		return "/socket.io/*", nil
	}
	for _, k := range benchRoutes {
		if r == k {
			return r, nil
		}
	}
	return "", fmt.Errorf("bench: route %q is not one of /echo, /echo-identity, /socket.io", r)
}

// edgewsConfig is what differs between the generated configs.
type edgewsConfig struct {
	listen, admin string
	verifier      string // dev, http or jwt
	httpURL       string
	jwtSecret     string
	remoteDelay   *time.Duration // cluster.remote.delay; nil keeps the default
	logLevel      string
}

// yaml renders the config file. Limits differ from the defaults only where
// a benchmark would otherwise measure something else: pings are rare (an
// idle bench socket has no reader to answer them) and so are the
// socketio transcoder's heartbeats.
func (c edgewsConfig) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %q\nadmin: {listen: %q}\nlog: {level: %s}\ndrain_timeout: 2s\n", c.listen, c.admin, orDefault(c.logLevel, "warn"))
	switch c.verifier {
	case "dev":
		b.WriteString("dev: true\nsession: {verifier: dev}\n")
	case "http":
		fmt.Fprintf(&b, "session:\n  verifier: http\n  http: {url: %q, positive_ttl: 10m, negative_ttl: 10m, cache_size: 1000000}\n", c.httpURL)
	case "jwt":
		fmt.Fprintf(&b, "session:\n  verifier: jwt\n  jwt: {keys: [{algorithm: HS256, secret: %q}]}\n", c.jwtSecret)
	}
	b.WriteString(`routes:
  - {path: /echo, echo: true}
  - {path: /echo-identity, echo: true, transcoder: identity}
  - {path: /socket.io/*, echo: true, transcoder: socketio}
  - {path: /ws}
transcoders:
  identity: {builtin: identity}
  socketio: {builtin: socketio, config: '{"pingInterval":600000,"pingTimeout":600000}'}
limits:
  max_sockets_per_user: 0
  ping_interval: 10m
  pong_timeout: 5m
`)
	if c.remoteDelay != nil {
		fmt.Fprintf(&b, "cluster:\n  remote: {delay: %s}\n", c.remoteDelay.String())
	}
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeConfig writes the config to dir/name.
func writeConfig(dir, name, content string) (string, error) {
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("bench: writing %s: %w", f, err)
	}
	return f, nil
}

// startEdgews starts an edgews node with a generated config on ip.
func (r *runner) startEdgews(ctx context.Context, name string, cfg edgewsConfig, extra ...string) (*process, error) {
	var err error
	if cfg.logLevel == "" && r.opts.TargetLog != nil {
		cfg.logLevel = "debug" // someone reads the log: say why sockets close
	}
	if cfg.listen == "" {
		if cfg.listen, err = freeAddr("127.0.0.1", false); err != nil {
			return nil, err
		}
	}
	if cfg.admin == "" {
		if cfg.admin, err = freeAddr("127.0.0.1", false); err != nil {
			return nil, err
		}
	}
	file, err := writeConfig(r.dir, name+".yaml", cfg.yaml())
	if err != nil {
		return nil, err
	}
	if r.report.EdgewsConfig == "" {
		r.report.EdgewsConfig = cfg.yaml()
	}
	args := append([]string{"serve", "--config", file}, extra...)
	p, err := startProcess(ctx, name, r.opts.Edgews, args, cfg.listen, cfg.admin, r.opts.TargetLog)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	return p, nil
}

// startReference starts the reference server.
func (r *runner) startReference(ctx context.Context) (*process, error) {
	listen, err := freeAddr("127.0.0.1", false)
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr("127.0.0.1", false)
	if err != nil {
		return nil, err
	}
	p, err := startProcess(ctx, targetReference, r.opts.Reference, []string{"--listen", listen, "--admin-listen", admin}, listen, admin, r.opts.TargetLog)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	return p, nil
}
