package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/edgews/edgews/gossip"
	"github.com/edgews/edgews/server/internal/netpoll"
	"github.com/edgews/edgews/server/internal/wsproto"
	"github.com/edgews/edgews/server/session"
)

// ErrClosed is returned by Start after Shutdown.
var ErrClosed = errors.New("server: closed")

// Server is an edgews node: the browser-facing WebSocket listener, the
// admin API, the socket registry and the socket service.
type Server struct {
	log       *slog.Logger
	opts      options
	cfg       atomic.Pointer[Config]
	routes    atomic.Pointer[routeTable]
	verifierB atomic.Pointer[verifierBox]
	dev       *session.Dev
	cascade   *cascade
	reg       *registry
	ips       *ipLimiter
	slots     atomic.Int64 // sockets counted against limits.max_sockets
	book      *statsBook
	metrics   *metrics
	partial   wsproto.Budget // limits.max_partial_bytes, shared by every socket's parser
	webhook   *webhook
	rejectLog *logLimiter

	lmu       sync.Mutex
	listeners atomic.Pointer[[]Listener]

	poller   *netpoll.Poller
	httpSrv  *fasthttp.Server
	adminSrv *fasthttp.Server
	ln       net.Listener
	adminLn  net.Listener
	token    atomic.Pointer[string]
	certs    *certStore // nil without TLS

	ctx      context.Context
	cancel   context.CancelFunc
	started  atomic.Bool
	draining atomic.Bool
	stopped  atomic.Bool
	wg       sync.WaitGroup
	sweepNow chan struct{}
	reloadMu sync.Mutex

	idPrefix string
	idSeq    atomic.Uint64
	nodeName string
	cluster  *gossip.Node // nil: single node
	wasm     *wasmState   // nil: no transcoders configured

	clusterDown atomic.Bool // the cluster layer stopped on its own
}

type verifierBox struct{ v session.Verifier }

// Option customizes a Server built by New.
type Option func(*options)

type options struct {
	version  string
	logger   *slog.Logger
	verifier session.Verifier
	listen   []Listener
	registry *prometheus.Registry
	poller   bool
	pollerOn bool
}

// WithVersion sets the version advertised to other cluster nodes.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithVerifier replaces the configured session verifier with v (for
// embedding edgews with your own session system). session.verifier in the
// config is then ignored.
func WithVerifier(v session.Verifier) Option { return func(o *options) { o.verifier = v } }

// WithListener registers a listener before the server starts.
func WithListener(l Listener) Option { return func(o *options) { o.listen = append(o.listen, l) } }

// WithMetricsRegistry makes the server register its metrics in r (default:
// a registry of its own, served at /metrics on the admin listener).
func WithMetricsRegistry(r *prometheus.Registry) Option {
	return func(o *options) { o.registry = r }
}

// WithEpoll turns the epoll driver on or off (default on where supported).
// Off, every socket has a reading goroutine.
func WithEpoll(on bool) Option { return func(o *options) { o.poller, o.pollerOn = true, on } }

// New validates cfg and builds a server. Nothing listens until Start.
func New(cfg Config, opts ...Option) (*Server, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if err := validateWith(&cfg, o.verifier != nil); err != nil {
		return nil, err
	}
	log := o.logger
	if log == nil {
		log = slog.Default()
	}
	name := cfg.NodeName
	if name == "" {
		name, _ = os.Hostname()
	}
	s := &Server{
		log:       log,
		opts:      o,
		cascade:   newCascade(cfg.Cascade),
		reg:       newRegistry(),
		ips:       newIPLimiter(),
		book:      newStatsBook(),
		rejectLog: newLogLimiter(20),
		sweepNow:  make(chan struct{}, 1),
		idPrefix:  randomPrefix(),
		nodeName:  name,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	empty := []Listener{}
	s.listeners.Store(&empty)
	for _, l := range o.listen {
		s.AddListener(l)
	}
	if cfg.Dev {
		s.dev = session.NewDev()
	}
	if err := s.applyConfig(&cfg); err != nil {
		return nil, err
	}
	reg := o.registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s, reg)
	if cfg.Webhook.URL != "" {
		s.webhook = newWebhook(cfg.Webhook, s.nodeName, log, s.metrics)
		s.AddListener(s.webhook)
	}
	return s, nil
}

// CheckConfig checks that cfg would start: it validates it and builds
// everything New builds (the verifier and its keys, TLS certificates, the
// admin token file, the transcoder modules, compiled and started) without
// binding any address.
func CheckConfig(cfg Config) error {
	s, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	s.close()
	return nil
}

// close releases what New built (for a server never started).
func (s *Server) close() {
	s.stopped.Store(true)
	s.cancel()
	if s.wasm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.wasm.reg.Close(ctx)
		_ = s.wasm.rt.Close(ctx)
		cancel()
	}
}

// validateWith is Validate, allowing a custom verifier.
func validateWith(cfg *Config, custom bool) error { return cfg.validate(custom) }

// applyConfig installs a validated config: routes, verifier, cascade,
// admin token. It is used by New and Reload.
func (s *Server) applyConfig(cfg *Config) error {
	var v session.Verifier
	if old := s.cfg.Load(); old != nil && reflect.DeepEqual(old.Session, cfg.Session) {
		v = s.verifier() // unchanged: keep its cache and its revocations
	} else {
		var err error
		if v, err = s.buildVerifier(cfg); err != nil {
			return err
		}
	}
	tok := cfg.Admin.Token
	if cfg.Admin.TokenFile != "" {
		b, err := os.ReadFile(cfg.Admin.TokenFile)
		if err != nil {
			return fmt.Errorf("%w: admin.token_file: %w", ErrConfig, err)
		}
		tok, _, _ = strings.Cut(string(b), "\n")
		tok = strings.TrimSpace(tok)
	}
	if cfg.TLS.CertFile != "" {
		cs := s.certs
		if cs == nil {
			cs = &certStore{}
		}
		if err := cs.load(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			return err
		}
		s.certs = cs
	}
	routes := buildRoutes(cfg, s.book, &s.partial)
	if err := s.attachTranscoders(cfg, routes); err != nil {
		return err
	}
	s.partial.SetLimit(int64(cfg.Limits.MaxPartialBytes))
	s.verifierB.Store(&verifierBox{v})
	s.token.Store(&tok)
	s.cascade.load(cfg.Cascade)
	s.routes.Store(routes)
	s.cfg.Store(cfg)
	return nil
}

// attachTranscoders loads the configured transcoders (swapping changed
// ones) and binds routes to them.
func (s *Server) attachTranscoders(cfg *Config, t *routeTable) error {
	if err := s.syncTranscoders(cfg); err != nil {
		return err
	}
	for _, r := range t.routes {
		if r.cfg.Transcoder == "" {
			continue
		}
		wt := s.wasm.reg.Get(r.cfg.Transcoder)
		if wt == nil {
			return fmt.Errorf("%w: routes: transcoder %q is not loaded", ErrConfig, r.cfg.Transcoder)
		}
		r.transcoder = &wasmTranscoder{srv: s, t: wt}
	}
	return nil
}

func (s *Server) buildVerifier(cfg *Config) (session.Verifier, error) {
	if s.opts.verifier != nil {
		return s.opts.verifier, nil
	}
	switch cfg.Session.Verifier {
	case "dev":
		return s.dev, nil
	case "http":
		h := cfg.Session.HTTP
		v, err := session.NewHTTP(session.HTTPConfig{
			URL: h.URL, Method: h.Method, Timeout: h.Timeout,
			ForwardCookies: h.ForwardCookies, ForwardHeaders: h.ForwardHeaders, Headers: h.Headers,
			PositiveTTL: h.PositiveTTL, NegativeTTL: h.NegativeTTL, CacheSize: h.CacheSize,
			UserField: h.UserField, ContextField: h.ContextField, AttributesField: h.AttributesField,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: session.http: %w", ErrConfig, err)
		}
		return v, nil
	case "jwt":
		j := cfg.Session.JWT
		keys := make([]session.JWTKey, len(j.Keys))
		for i, k := range j.Keys {
			keys[i] = session.JWTKey{ID: k.ID, Algorithm: k.Algorithm, Secret: k.Secret, PublicKey: k.PublicKey, PublicKeyFile: k.PublicKeyFile}
		}
		v, err := session.NewJWT(session.JWTConfig{
			Cookie: j.Cookie, Keys: keys, JWKSFile: j.JWKSFile,
			UserClaim: j.UserClaim, ContextClaim: j.ContextClaim, SessionClaim: j.SessionClaim,
			Issuer: j.Issuer, Audience: j.Audience, Leeway: j.Leeway,
			RevokeFor: j.RevokeFor, RevokeMax: j.RevokeMax,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: session.jwt: %w", ErrConfig, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: session.verifier: %q is not one of dev, http, jwt", ErrConfig, cfg.Session.Verifier)
}

func (s *Server) verifier() session.Verifier { return s.verifierB.Load().v }

// reverifyInterval is the effective re-verification period.
func (s *Server) reverifyInterval(cfg *Config) time.Duration {
	if cfg.Session.ReverifyInterval != nil {
		return *cfg.Session.ReverifyInterval
	}
	if cfg.Session.Verifier == "http" && s.opts.verifier == nil {
		return 5 * time.Minute
	}
	return 0
}

// Config returns the running configuration (do not modify it).
func (s *Server) Config() *Config { return s.cfg.Load() }

// Dev returns the dev verifier, or nil outside dev mode.
func (s *Server) Dev() *session.Dev { return s.dev }

// NodeName returns this node's name.
func (s *Server) NodeName() string { return s.nodeName }

// Start binds the listeners and starts serving. It returns once both
// listeners accept connections.
func (s *Server) Start() error {
	if s.stopped.Load() {
		return ErrClosed
	}
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("server: already started")
	}
	cfg := s.cfg.Load()
	if !s.opts.poller || s.opts.pollerOn {
		p, err := netpoll.New(netpoll.Config{})
		switch {
		case err == nil:
			s.poller = p
		case errors.Is(err, netpoll.ErrUnsupported):
			s.log.Info("epoll is not available here: one reading goroutine per socket")
		default:
			s.log.Warn("epoll failed to start: one reading goroutine per socket", "error", err)
		}
	}
	s.httpSrv = &fasthttp.Server{
		Handler:                       s.handleHTTP,
		Name:                          "edgews",
		ReadTimeout:                   cfg.Limits.HandshakeTimeout,
		WriteTimeout:                  cfg.Limits.WriteTimeout,
		IdleTimeout:                   cfg.Limits.HandshakeTimeout,
		ReadBufferSize:                int(cfg.Limits.MaxHeaderBytes),
		MaxRequestBodySize:            64 << 10,
		KeepHijackedConns:             true,
		DisableHeaderNamesNormalizing: false,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		Logger:                        fasthttpLogger{s.log},
		ErrorHandler:                  s.httpParseError,
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", cfg.Listen, err)
	}
	s.ln = ln
	serveLn := ln
	if max := cfg.Limits.MaxPendingPerIP; max > 0 {
		serveLn = &pendingListener{Listener: ln, max: max, byIP: map[string]int{}, refused: s.book.rejected["ip_pending"],
			onRefuse: func(ip string) {
				if s.rejectLog.allow() {
					s.log.Info("connection refused", "reason", "ip_pending", "status", 429, "remote", ip, "max_pending_per_ip", max)
				}
			}}
	}
	if s.certs != nil {
		// TLS sockets are read by a goroutine each (the record layer
		// buffers); plain TCP sockets use epoll.
		serveLn = tls.NewListener(serveLn, s.certs.tlsConfig())
	}
	if cfg.Admin.Listen != "" {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("server: admin listen %s: %w", cfg.Admin.Listen, err)
		}
		s.adminLn = aln
		s.adminSrv = &fasthttp.Server{
			Handler:            s.handleAdmin,
			Name:               "edgews-admin",
			ReadTimeout:        30 * time.Second,
			WriteTimeout:       30 * time.Second,
			IdleTimeout:        60 * time.Second,
			MaxRequestBodySize: max(int(cfg.Limits.MaxMessageSize)*4/3+64<<10, 64<<20), // base64 of the largest message; a .wasm upload
			Logger:             fasthttpLogger{s.log},
			ErrorHandler:       adminParseError,
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.adminSrv.Serve(aln)
		}()
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(serveLn)
	}()
	go func() {
		defer s.wg.Done()
		s.sweeper()
	}()
	if s.wasm != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.watchTranscoders()
		}()
	}
	if s.webhook != nil {
		s.webhook.start()
	}
	if err := s.startCluster(s.opts.version); err != nil {
		s.stopped.Store(true)
		s.cancel()
		_ = s.ln.Close()
		if s.adminLn != nil {
			_ = s.adminSrv.Shutdown()
		}
		s.wg.Wait()
		return err
	}
	attrs := []any{"listen", ln.Addr().String(), "tls", s.certs != nil, "node", s.nodeName, "verifier", cfg.Session.Verifier,
		"routes", len(cfg.Routes), "epoll", s.poller != nil}
	if s.adminLn != nil {
		attrs = append(attrs, "admin", s.adminLn.Addr().String())
	}
	s.log.Info("edgews started", attrs...)
	if cfg.Dev {
		s.log.Warn("DEV MODE: sessions come from POST /dev/login with no password and the admin API may have no token; never expose this server",
			"login", "http://"+displayAddr(ln.Addr())+"/dev/login")
	}
	return nil
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// Addr returns the browser-facing listener's address (after Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// AdminAddr returns the admin listener's address (after Start), or nil.
func (s *Server) AdminAddr() net.Addr {
	if s.adminLn == nil {
		return nil
	}
	return s.adminLn.Addr()
}

// Shutdown drains the node: it stops accepting upgrades, sends 1001 to
// every socket, waits until they are closed or DrainTimeout (or ctx) runs
// out, drops what is left, and stops. Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	s.draining.Store(true)
	cfg := s.cfg.Load()
	if !s.started.Load() {
		s.cancel()
		return nil
	}
	n := s.reg.total.Load()
	s.log.Info("draining", "sockets", n, "timeout", cfg.DrainTimeout)
	_ = s.ln.Close() // stop accepting; fasthttp's Serve returns
	s.reg.each(func(sock *Socket) {
		sock.closeWith(1001, "server shutting down", "drain")
	})
	dctx, cancel := context.WithTimeout(ctx, cfg.DrainTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.reg.total.Load() > 0 {
		select {
		case <-dctx.Done():
			left := s.reg.total.Load()
			s.log.Warn("drain timeout: dropping the remaining sockets", "sockets", left)
			s.reg.each(func(sock *Socket) { sock.conn.Abort("drain") })
			for i := 0; i < 100 && s.reg.total.Load() > 0; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			goto done
		case <-tick.C:
		}
	}
done:
	s.leaveCluster()
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = s.httpSrv.ShutdownWithContext(sctx)
	scancel()
	if s.webhook != nil {
		s.webhook.stop(cfg.Webhook.Timeout)
	}
	s.cancel() // stops the sweeper
	if s.adminSrv != nil {
		actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.adminSrv.ShutdownWithContext(actx)
		acancel()
	}
	s.wg.Wait()
	if s.poller != nil {
		_ = s.poller.Close()
	}
	if s.wasm != nil {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.wasm.reg.Close(cctx)
		_ = s.wasm.rt.Close(cctx)
		ccancel()
	}
	s.log.Info("stopped", "sockets_at_start_of_drain", n)
	return nil
}

// Reload validates cfg and applies what can change at runtime: routes and
// limits (for new sockets), origins, the verifier, the cascade (open
// sockets of users it now disables are closed with 4403), the admin token
// and the log level. Settings that need a restart are reported in the
// returned list and keep their old values.
func (s *Server) Reload(cfg Config) (restartNeeded []string, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := validateWith(&cfg, s.opts.verifier != nil); err != nil {
		return nil, err
	}
	old := s.cfg.Load()
	if cfg.Listen != old.Listen {
		restartNeeded = append(restartNeeded, "listen")
		cfg.Listen = old.Listen
	}
	if cfg.Admin.Listen != old.Admin.Listen {
		restartNeeded = append(restartNeeded, "admin.listen")
		cfg.Admin.Listen = old.Admin.Listen
	}
	if cfg.Dev != old.Dev {
		restartNeeded = append(restartNeeded, "dev")
		cfg.Dev = old.Dev
	}
	if cfg.NodeName != old.NodeName {
		restartNeeded = append(restartNeeded, "node_name")
		cfg.NodeName = old.NodeName
	}
	if (cfg.TLS.CertFile == "") != (old.TLS.CertFile == "") {
		restartNeeded = append(restartNeeded, "tls")
		cfg.TLS = old.TLS
	}
	if !reflect.DeepEqual(cfg.Webhook, old.Webhook) {
		restartNeeded = append(restartNeeded, "webhook")
		cfg.Webhook = old.Webhook
	}
	if cfg.Log.Format != old.Log.Format {
		restartNeeded = append(restartNeeded, "log.format")
		cfg.Log.Format = old.Log.Format
	}
	if cfg.Limits.MaxHeaderBytes != old.Limits.MaxHeaderBytes || cfg.Limits.HandshakeTimeout != old.Limits.HandshakeTimeout {
		restartNeeded = append(restartNeeded, "limits.max_header_bytes/handshake_timeout")
		cfg.Limits.MaxHeaderBytes, cfg.Limits.HandshakeTimeout = old.Limits.MaxHeaderBytes, old.Limits.HandshakeTimeout
	}
	oldCluster, newCluster := old.Cluster, cfg.Cluster
	oldCluster.Remote, newCluster.Remote = RemoteQueueConfig{}, RemoteQueueConfig{}
	if !reflect.DeepEqual(oldCluster, newCluster) {
		restartNeeded = append(restartNeeded, "cluster")
		remote := cfg.Cluster.Remote
		cfg.Cluster = old.Cluster
		cfg.Cluster.Remote = remote
	}
	if s.cluster != nil {
		if err := s.cluster.SetQueueSettings(queueSettings(cfg.Cluster.Remote)); err != nil {
			return nil, fmt.Errorf("%w: cluster.remote: %w", ErrConfig, err)
		}
	}
	if err := s.applyConfig(&cfg); err != nil {
		return nil, err
	}
	s.enforceCascade()
	s.log.Info("configuration reloaded", "routes", len(cfg.Routes), "restart_needed", restartNeeded)
	return restartNeeded, nil
}

// enforceCascade closes open sockets of users the cascade now disables.
func (s *Server) enforceCascade() int {
	n := 0
	s.reg.eachSession(func(e *sessionEntry) {
		mu := s.reg.mu(e.id)
		mu.RLock()
		sets := e.sets
		socks := append([]*Socket(nil), e.sockets...)
		mu.RUnlock()
		if d := s.cascade.decide(e.context, e.user, sets); !d.Enabled {
			for _, sock := range socks {
				sock.closeWith(CloseDisabled, "WebSockets are disabled for this user", "disabled")
				n++
			}
		}
	})
	if n > 0 {
		s.log.Info("closed sockets of users the cascade now disables", "sockets", n)
	}
	return n
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomPrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

func (s *Server) newSocketID() string {
	return s.idPrefix + "." + strconv.FormatUint(s.idSeq.Add(1), 36)
}

// fasthttpLogger routes fasthttp's own messages into slog.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug("fasthttp: " + fmt.Sprintf(format, args...))
}
