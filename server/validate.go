package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/edgews/edgews/server/pathfilter"
)

// Validate checks cfg and returns every problem found, each naming its key
// (for example `routes[1].path: "/a*": ...`). It also fills in defaults that
// depend on other fields.
func (c *Config) Validate() error { return c.validate(false) }

// validate is Validate; customVerifier skips the session.verifier checks
// (an embedder supplied its own verifier).
func (c *Config) validate(customVerifier bool) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, key, fmt.Sprintf(format, args...)))
	}

	if err := checkHostPort(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if len(c.NodeName) > 64 || strings.ContainsAny(c.NodeName, " \t\n/") {
		bad("node_name", "%q must be at most 64 bytes without spaces or slashes", c.NodeName)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file must be set together")
	}
	if c.Admin.Listen != "" {
		if err := checkHostPort(c.Admin.Listen); err != nil {
			bad("admin.listen", "%v", err)
		}
	}
	if c.Admin.Token != "" && c.Admin.TokenFile != "" {
		bad("admin.token", "set token or token_file, not both")
	}
	if c.Admin.TokenFile != "" {
		if _, err := os.ReadFile(c.Admin.TokenFile); err != nil {
			bad("admin.token_file", "%v", err)
		}
	}
	if c.Admin.Listen != "" && c.Admin.Token == "" && c.Admin.TokenFile == "" && !isLoopbackAddr(c.Admin.Listen) {
		bad("admin.token", "required when admin.listen (%s) is not a loopback address", c.Admin.Listen)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}

	// Session.
	if c.Session.Param == "" || strings.ContainsAny(c.Session.Param, "&=?# ") {
		bad("session.param", "%q is not a usable URL parameter name", c.Session.Param)
	}
	switch verifier := c.Session.Verifier; {
	case customVerifier:
	case verifier == "dev":
		if !c.Dev {
			bad("session.verifier", `"dev" is only allowed in dev mode (--dev or dev: true)`)
		}
	case verifier == "http":
		if c.Session.HTTP.URL == "" {
			bad("session.http.url", "required by the http verifier")
		}
	case verifier == "jwt":
		if len(c.Session.JWT.Keys) == 0 && c.Session.JWT.JWKSFile == "" {
			bad("session.jwt", "set keys or jwks_file")
		}
	case verifier == "":
		bad("session.verifier", "required: dev (dev mode only), http or jwt")
	default:
		bad("session.verifier", "%q is not one of dev, http, jwt", c.Session.Verifier)
	}
	if c.Session.ReverifyInterval != nil && *c.Session.ReverifyInterval < 0 {
		bad("session.reverify_interval", "must not be negative")
	}
	if c.Session.VerifyTimeout <= 0 {
		bad("session.verify_timeout", "must be positive")
	}

	// Origins.
	for i, o := range c.Origins {
		if err := checkOrigin(o); err != nil {
			bad(fmt.Sprintf("origins[%d]", i), "%v", err)
		}
	}

	// Routes.
	if len(c.Routes) == 0 {
		bad("routes", "at least one route is required")
	}
	seen := map[string]int{}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		f, err := pathfilter.Parse(r.Path)
		if err != nil {
			bad(key+".path", "%v", err)
		} else if j, dup := seen[f.String()]; dup {
			bad(key+".path", "%q is also routes[%d]", r.Path, j)
		} else {
			seen[f.String()] = i
		}
		for j, o := range r.Origins {
			if err := checkOrigin(o); err != nil {
				bad(fmt.Sprintf("%s.origins[%d]", key, j), "%v", err)
			}
		}
		for j, p := range r.Subprotocols {
			if p == "" || strings.ContainsAny(p, " ,;\t\"") {
				bad(fmt.Sprintf("%s.subprotocols[%d]", key, j), "%q is not a valid subprotocol token", p)
			}
		}
		if r.RequireSubprotocol && len(r.Subprotocols) == 0 {
			bad(key+".require_subprotocol", "needs subprotocols")
		}
		if l := r.Compression.Level; l != 0 && (l < 1 || l > 9) {
			bad(key+".compression.level", "%d is not between 1 and 9", l)
		}
		if r.MaxMessageSize < 0 || r.MaxMessageSize > 1<<30 {
			bad(key+".max_message_size", "%d is not between 0 (use limits.max_message_size) and 1GiB", r.MaxMessageSize)
		}
	}

	// Transcoders.
	for name, tc := range c.Transcoders {
		key := "transcoders." + name
		if !validIdent(name) || strings.ContainsAny(name, "/") {
			bad(key, "%q is not a usable transcoder name", name)
		}
		switch {
		case tc.File != "" && tc.Builtin != "":
			bad(key, "set file or builtin, not both")
		case tc.File != "":
			if _, err := os.Stat(tc.File); err != nil {
				bad(key+".file", "%v", err)
			}
		case tc.Builtin != "":
			if _, ok := builtinModule(tc.Builtin); !ok {
				bad(key+".builtin", "%q is not an embedded module (identity, socketio)", tc.Builtin)
			}
		default:
			bad(key, "set file (a .wasm path) or builtin (identity, socketio)")
		}
		if tc.Watch && tc.File == "" {
			bad(key+".watch", "needs file")
		}
		if tc.CallTimeout < 0 || tc.MaxMemory < 0 || tc.MaxEmit < 0 || tc.MaxInstances < 0 {
			bad(key, "call_timeout, max_memory, max_emit and max_instances must not be negative")
		}
		if tc.MaxMemory > 4<<30 {
			bad(key+".max_memory", "%s is more than the 4GiB a 32-bit WASM memory can hold", tc.MaxMemory)
		}
	}
	for i, r := range c.Routes {
		if r.Transcoder != "" {
			if _, ok := c.Transcoders[r.Transcoder]; !ok {
				bad(fmt.Sprintf("routes[%d].transcoder", i), "%q is not defined under transcoders", r.Transcoder)
			}
		}
	}

	// Limits.
	l := &c.Limits
	for _, n := range []struct {
		key string
		v   int64
	}{
		{"limits.max_sockets", int64(l.MaxSockets)},
		{"limits.max_sockets_per_user", int64(l.MaxSocketsPerUser)},
		{"limits.max_fragments", int64(l.MaxFragments)},
		{"limits.max_partial_bytes", int64(l.MaxPartialBytes)},
		{"limits.max_control_frames", int64(l.MaxControlFrames)},
		{"limits.max_sockets_per_ip", int64(l.MaxSocketsPerIP)},
		{"limits.upgrade_rate_per_ip", int64(l.UpgradeRatePerIP * 1000)},
		{"limits.upgrade_burst_per_ip", int64(l.UpgradeBurstPerIP)},
		{"limits.max_pending_per_ip", int64(l.MaxPendingPerIP)},
		{"limits.ping_interval", int64(l.PingInterval)},
	} {
		if n.v < 0 {
			bad(n.key, "must not be negative")
		}
	}
	for _, n := range []struct {
		key string
		v   int64
	}{
		{"limits.max_message_size", int64(l.MaxMessageSize)},
		{"limits.max_header_bytes", int64(l.MaxHeaderBytes)},
		{"limits.handshake_timeout", int64(l.HandshakeTimeout)},
		{"limits.read_timeout", int64(l.ReadTimeout)},
		{"limits.write_timeout", int64(l.WriteTimeout)},
		{"limits.close_timeout", int64(l.CloseTimeout)},
		{"limits.queue_messages", int64(l.QueueMessages)},
		{"limits.queue_bytes", int64(l.QueueBytes)},
	} {
		if n.v <= 0 {
			bad(n.key, "must be positive")
		}
	}
	if l.PingInterval > 0 && l.PongTimeout <= 0 {
		bad("limits.pong_timeout", "must be positive when limits.ping_interval is set")
	}
	if l.MaxHeaderBytes > 0 && l.MaxHeaderBytes < 1024 {
		bad("limits.max_header_bytes", "%s is too small for a browser's upgrade request (at least 1KiB)", l.MaxHeaderBytes)
	}
	if !slices.Contains([]string{"refuse", "close_oldest"}, l.OnUserLimit) {
		bad("limits.on_user_limit", "%q is not one of refuse, close_oldest", l.OnUserLimit)
	}
	if !slices.Contains([]string{"close", "drop_oldest"}, l.OnQueueFull) {
		bad("limits.on_queue_full", "%q is not one of close, drop_oldest", l.OnQueueFull)
	}

	// Cascade.
	names := map[string]bool{}
	for i, s := range c.Cascade.ContextSets {
		key := fmt.Sprintf("cascade.context_sets[%d]", i)
		switch {
		case s.Name == "":
			bad(key+".name", "required")
		case names[s.Name]:
			bad(key+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		if s.Enabled == nil {
			bad(key+".enabled", "required")
		}
	}

	// Webhook.
	if w := c.Webhook; w.URL != "" {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("webhook.url", "%q must be an absolute http(s) URL", w.URL)
		}
		for i, e := range w.Events {
			if !slices.Contains([]string{"connect", "close", "message"}, e) {
				bad(fmt.Sprintf("webhook.events[%d]", i), "%q is not one of connect, close, message", e)
			}
		}
		if w.BatchSize <= 0 || w.QueueSize <= 0 || w.BatchInterval <= 0 || w.Timeout <= 0 || w.MaxRetries < 0 {
			bad("webhook", "batch_size, queue_size, batch_interval and timeout must be positive, max_retries not negative")
		}
	}
	// Cluster.
	if cl := c.Cluster; cl.Bind != "" {
		for _, a := range []struct{ key, v string }{
			{"cluster.bind", cl.Bind}, {"cluster.advertise", cl.Advertise},
			{"cluster.internal_bind", cl.InternalBind}, {"cluster.internal_advertise", cl.InternalAdvertise},
		} {
			if a.v != "" {
				if err := checkHostPort(a.v); err != nil {
					bad(a.key, "%v", err)
				}
			}
		}
		for i, j := range cl.Join {
			if err := checkHostPort(j); err != nil {
				bad(fmt.Sprintf("cluster.join[%d]", i), "%v", err)
			}
		}
		if cl.EncryptKey != "" && cl.EncryptKeyFile != "" {
			bad("cluster.encrypt_key", "set encrypt_key or encrypt_key_file, not both")
		}
		if cl.EncryptKeyFile != "" {
			if _, err := os.ReadFile(cl.EncryptKeyFile); err != nil {
				bad("cluster.encrypt_key_file", "%v", err)
			}
		}
		if cl.EncryptKey != "" {
			if k, err := base64.StdEncoding.DecodeString(cl.EncryptKey); err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
				bad("cluster.encrypt_key", "must be the base64 encoding of 16, 24 or 32 bytes (try: head -c 32 /dev/urandom | base64)")
			}
		}
		if cl.EncryptKey == "" && cl.EncryptKeyFile == "" && (!isLoopbackAddr(cl.Bind) || (cl.InternalBind != "" && !isLoopbackAddr(cl.InternalBind))) {
			bad("cluster.encrypt_key", "required when the cluster binds a non-loopback address (%s)", cl.Bind)
		}
		r := cl.Remote
		if r.Delay < 0 || r.MaxDelay < r.Delay || r.TimerFrequency <= 0 || r.MaxMessages <= 0 || r.MaxBytes <= 0 {
			bad("cluster.remote", "delay >= 0, max_delay >= delay, timer_frequency > 0, max_messages and max_bytes > 0")
		}
		if cl.ExistsTimeout <= 0 || cl.LeaveTimeout <= 0 || cl.ReconnectInterval <= 0 || cl.FailedQueueGrace < 0 {
			bad("cluster", "exists_timeout, leave_timeout and reconnect_interval must be positive, failed_queue_grace not negative")
		}
	}
	if c.DrainTimeout < 0 {
		bad("drain_timeout", "must not be negative")
	}
	return errors.Join(errs...)
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (%v)", addr, err)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	_ = host
	return nil
}

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOrigin accepts "*", "null", and scheme://host[:port] where host may
// start with "*." to allow subdomains.
func checkOrigin(o string) error {
	if o == "*" || o == "null" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://app.example.com (or \"*\")", o)
	}
	if strings.Contains(strings.TrimPrefix(u.Hostname(), "*."), "*") {
		return fmt.Errorf("%q: only a leading \"*.\" is allowed in the host", o)
	}
	return nil
}
