package server

import (
	"os"
	"path/filepath"
	"time"
)

// Config is the whole server configuration. The zero value is not valid;
// start from DefaultConfig (or DevConfig) and change what you need, then
// Validate. Field comments are the configuration reference; the `reload`
// tag says whether a change takes effect on reload (SIGHUP or the admin
// API) without a restart.
type Config struct {
	// Listen is the address browsers connect to.
	Listen string `yaml:"listen"`
	// Dev turns on dev mode: the dev verifier, POST /dev/login and the demo
	// page. Never use it in production.
	Dev bool `yaml:"dev"`
	// NodeName names this node in logs, stats and the cluster (default: the
	// host name).
	NodeName string `yaml:"node_name"`
	// TLS serves wss:// directly when cert_file and key_file are set.
	TLS TLSConfig `yaml:"tls"`
	// Admin is the admin API listener.
	Admin AdminConfig `yaml:"admin"`
	// Log sets up logging.
	Log LogConfig `yaml:"log" reload:"true"`
	// Session chooses and configures the session verifier.
	Session SessionConfig `yaml:"session" reload:"true"`
	// Origins are the allowed Origin header values for every route that
	// does not set its own. Empty allows only the request's own host; "*"
	// allows any origin and must be set explicitly.
	Origins []string `yaml:"origins" reload:"true"`
	// Routes are the WebSocket routes.
	Routes []RouteConfig `yaml:"routes" reload:"true"`
	// Limits bound what each socket and client may use.
	Limits LimitsConfig `yaml:"limits" reload:"true"`
	// Cascade is the "enabled" switch at server, context-set, context and
	// user scope.
	Cascade CascadeConfig `yaml:"cascade" reload:"true"`
	// Webhook posts connect/close/message events to a backend.
	Webhook WebhookConfig `yaml:"webhook"`
	// Cluster joins this node to others (serf gossip) so exists, send,
	// session invalidation and stats work across nodes.
	Cluster ClusterConfig `yaml:"cluster"`
	// Transcoders are the WASM modules routes can use, by name.
	Transcoders map[string]TranscoderConfig `yaml:"transcoders" reload:"true"`
	// WASM configures the WebAssembly runtime.
	WASM WASMConfig `yaml:"wasm"`
	// DrainTimeout is how long shutdown waits for sockets to close after
	// sending them 1001.
	DrainTimeout time.Duration `yaml:"drain_timeout" reload:"true"`
}

// TLSConfig enables wss:// on Listen.
type TLSConfig struct {
	// CertFile is the PEM certificate (chain); set with key_file. A reload
	// reads both files again.
	CertFile string `yaml:"cert_file" reload:"true"`
	// KeyFile is the PEM private key.
	KeyFile string `yaml:"key_file" reload:"true"`
}

// AdminConfig is the admin API listener.
type AdminConfig struct {
	// Listen is the admin API address; empty disables the admin API.
	Listen string `yaml:"listen"`
	// Token is the bearer token the admin API requires. Required when
	// Listen is not a loopback address.
	Token string `yaml:"token" reload:"true"`
	// TokenFile reads the token from a file instead (first line).
	TokenFile string `yaml:"token_file" reload:"true"`
}

// LogConfig sets up logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level" reload:"true"`
	// Format is text or json.
	Format string `yaml:"format" reload:"false"`
}

// SessionConfig chooses the session verifier.
type SessionConfig struct {
	// Param is the URL parameter that carries the session id.
	Param string `yaml:"param" reload:"true"`
	// Verifier is dev, http or jwt ("dev" requires dev mode).
	Verifier string `yaml:"verifier" reload:"true"`
	// ReverifyInterval re-checks every open session this often and closes
	// its sockets (4401) when it is no longer valid; 0 turns it off.
	// Default: 5m for http, off for jwt and dev.
	ReverifyInterval *time.Duration `yaml:"reverify_interval" reload:"true"`
	// VerifyTimeout bounds a verification during the upgrade.
	VerifyTimeout time.Duration `yaml:"verify_timeout" reload:"true"`
	// HTTP configures the http verifier.
	HTTP HTTPVerifierConfig `yaml:"http" reload:"true"`
	// JWT configures the jwt verifier.
	JWT JWTVerifierConfig `yaml:"jwt" reload:"true"`
}

// HTTPVerifierConfig configures the http verifier (see session.HTTPConfig).
type HTTPVerifierConfig struct {
	// URL is the backend's session check endpoint (http or https).
	URL string `yaml:"url"`
	// Method is POST (JSON body {"session","path","remote_addr"}) or GET
	// (?session=<id>); default POST.
	Method string `yaml:"method"`
	// Timeout bounds one backend call (default 2s).
	Timeout time.Duration `yaml:"timeout"`
	// ForwardCookies names the cookies sent to the backend ("prefix*"
	// allowed); empty sends all. They are part of the cache key.
	ForwardCookies []string `yaml:"forward_cookies"`
	// ForwardHeaders names request headers copied to the backend call.
	ForwardHeaders []string `yaml:"forward_headers"`
	// Headers are fixed headers for every backend call (e.g. Authorization).
	Headers map[string]string `yaml:"headers"`
	// PositiveTTL caches valid answers (default 30s; never past the
	// session's expiry).
	PositiveTTL time.Duration `yaml:"positive_ttl"`
	// NegativeTTL caches refusals (default 5s).
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// CacheSize bounds the cached answers (default 100000).
	CacheSize int `yaml:"cache_size"`
	// UserField names the answer's user field (default "user").
	UserField string `yaml:"user_field"`
	// ContextField names the answer's context field (default "context").
	ContextField string `yaml:"context_field"`
	// AttributesField names the answer's attributes object (default "attributes").
	AttributesField string `yaml:"attributes_field"`
}

// JWTVerifierConfig configures the jwt verifier (see session.JWTConfig).
type JWTVerifierConfig struct {
	// Cookie names a cookie holding the token when the session parameter is absent.
	Cookie string `yaml:"cookie"`
	// Keys are the verification keys.
	Keys []JWTKeyConfig `yaml:"keys"`
	// JWKSFile is a JSON Web Key Set file with more keys.
	JWKSFile string `yaml:"jwks_file"`
	// UserClaim names the claim mapped to the user (default "sub").
	UserClaim string `yaml:"user_claim"`
	// ContextClaim names the claim mapped to the context (default "context").
	ContextClaim string `yaml:"context_claim"`
	// SessionClaim names the claim used as session id (default "sid", then
	// "jti", then a hash of the token).
	SessionClaim string `yaml:"session_claim"`
	// Issuer, when set, must equal the token's iss.
	Issuer string `yaml:"issuer"`
	// Audience, when set, must be in the token's aud.
	Audience string `yaml:"audience"`
	// Leeway tolerates clock skew on exp and nbf (default 30s).
	Leeway time.Duration `yaml:"leeway"`
	// RevokeFor is how long a session invalidated through the admin API
	// stays refused (tokens are stateless); cover the longest token
	// lifetime (default 24h).
	RevokeFor time.Duration `yaml:"revoke_for"`
	// RevokeMax bounds the remembered invalidations (default 100000; the
	// oldest go first).
	RevokeMax int `yaml:"revoke_max"`
}

// JWTKeyConfig is one JWT verification key.
type JWTKeyConfig struct {
	// ID is the key id (kid); a token naming a kid is checked only against
	// keys with that id.
	ID string `yaml:"id"`
	// Algorithm is HS256, RS256, ES256 or EdDSA.
	Algorithm string `yaml:"algorithm"`
	// Secret is an HS256 shared secret (at least 32 bytes).
	Secret string `yaml:"secret"`
	// PublicKey is a PEM public key (RS256, ES256, EdDSA).
	PublicKey string `yaml:"public_key"`
	// PublicKeyFile is a file holding a PEM public key.
	PublicKeyFile string `yaml:"public_key_file"`
}

// RouteConfig is one WebSocket route.
type RouteConfig struct {
	// Path is an exact path ("/ws") or a prefix ("/socket.io/*").
	Path string `yaml:"path"`
	// Origins overrides the server's Origins for this route.
	Origins []string `yaml:"origins"`
	// Subprotocols the route accepts, in order of preference.
	Subprotocols []string `yaml:"subprotocols"`
	// RequireSubprotocol refuses upgrades that offer none of Subprotocols.
	RequireSubprotocol bool `yaml:"require_subprotocol"`
	// Compression configures permessage-deflate.
	Compression CompressionConfig `yaml:"compression"`
	// MaxMessageSize bounds one message (after decompression); default from
	// limits.max_message_size. Exceeding it closes with 1009.
	MaxMessageSize ByteSize `yaml:"max_message_size"`
	// Echo sends every message back to its socket (the built-in echo listener).
	Echo bool `yaml:"echo"`
	// Transcoder names a transcoder (see transcoders) for this route.
	Transcoder string `yaml:"transcoder"`
}

// CompressionConfig configures permessage-deflate for a route.
type CompressionConfig struct {
	// Enabled negotiates permessage-deflate when the client offers it.
	Enabled bool `yaml:"enabled"`
	// ServerContextTakeover keeps edgews's compression context between
	// messages (better ratio; costs a 32 KiB window per socket and CPU).
	ServerContextTakeover bool `yaml:"server_context_takeover"`
	// ClientContextTakeover lets the client keep its context (costs a
	// 32 KiB window per socket on the server).
	ClientContextTakeover bool `yaml:"client_context_takeover"`
	// Level is the compression level, 1 (fastest) to 9.
	Level int `yaml:"level"`
	// MinSize: outgoing messages shorter than this are not compressed.
	MinSize ByteSize `yaml:"min_size"`
}

// LimitsConfig bounds resources. Changes apply to sockets opened after a
// reload.
type LimitsConfig struct {
	// MaxSockets caps the sockets of this node (0: no cap); upgrades beyond
	// it get 503.
	MaxSockets int `yaml:"max_sockets"`
	// MaxSocketsPerUser caps one user's sockets on this node (0: no cap).
	MaxSocketsPerUser int `yaml:"max_sockets_per_user"`
	// OnUserLimit is "refuse" (the new upgrade gets 429) or "close_oldest"
	// (the user's oldest socket is closed with 1008).
	OnUserLimit string `yaml:"on_user_limit"`
	// MaxMessageSize is the default per-route message limit (close 1009).
	MaxMessageSize ByteSize `yaml:"max_message_size"`
	// MaxFragments caps the frames of one message (0: no cap; close 1009).
	MaxFragments int `yaml:"max_fragments"`
	// MaxPartialBytes caps the memory all sockets of the node together
	// may hold for messages that have not fully arrived (0: no cap). A
	// socket whose message would pass it is closed with 1013 (try again
	// later); sockets whose messages arrive in one read never count.
	// Applies to open sockets at once on reload.
	MaxPartialBytes ByteSize `yaml:"max_partial_bytes"`
	// MaxControlFrames caps the pings and pongs a socket may send per
	// second (0: no cap); a flood closes the socket with 1008.
	MaxControlFrames int `yaml:"max_control_frames"`
	// MaxSocketsPerIP caps the open sockets of one client IP (0: no cap;
	// upgrades beyond it get 429). Behind a proxy every client shares the
	// proxy's IP: leave it 0 there.
	MaxSocketsPerIP int `yaml:"max_sockets_per_ip"`
	// UpgradeRatePerIP caps the upgrades per second one client IP may make
	// (0: no cap; beyond it 429), with bursts of UpgradeBurstPerIP.
	UpgradeRatePerIP float64 `yaml:"upgrade_rate_per_ip"`
	// UpgradeBurstPerIP is the burst allowed above UpgradeRatePerIP.
	UpgradeBurstPerIP int `yaml:"upgrade_burst_per_ip"`
	// MaxPendingPerIP caps the connections one IP may hold open before
	// their upgrade completes (0: no cap); beyond it new connections are
	// refused at once, so a slowloris client from one address cannot
	// exhaust the server.
	MaxPendingPerIP int `yaml:"max_pending_per_ip" reload:"false"`
	// MaxHeaderBytes caps the upgrade request's header (431 beyond).
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes" reload:"false"`
	// HandshakeTimeout bounds reading the upgrade request.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout" reload:"false"`
	// ReadTimeout bounds how long a started frame or message may take to
	// arrive completely (close 1008).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds one blocked write to a socket; beyond it the
	// socket is dropped.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// CloseTimeout is how long to wait for the peer's close frame.
	CloseTimeout time.Duration `yaml:"close_timeout"`
	// PingInterval pings a socket that has been silent this long.
	PingInterval time.Duration `yaml:"ping_interval"`
	// PongTimeout drops a pinged socket that stays silent this long.
	PongTimeout time.Duration `yaml:"pong_timeout"`
	// QueueMessages bounds the messages in each socket's outbound queue.
	QueueMessages int `yaml:"queue_messages"`
	// QueueBytes bounds the bytes in each socket's outbound queue.
	QueueBytes ByteSize `yaml:"queue_bytes"`
	// OnQueueFull is "close" (close the slow socket with 1008) or
	// "drop_oldest" (drop the oldest queued messages); both are counted.
	OnQueueFull string `yaml:"on_queue_full"`
}

// CascadeConfig is the config cascade for the "enabled" switch: the most
// specific scope that sets a value wins (user > context > context set >
// server).
type CascadeConfig struct {
	// Enabled is the server-scope value.
	Enabled *bool `yaml:"enabled"`
	// ContextSetAttribute names a session attribute listing (comma
	// separated) the context sets a session's context belongs to, in
	// addition to ContextSets' members.
	ContextSetAttribute string `yaml:"context_set_attribute"`
	// ContextSets are named lists of contexts with a value; when several
	// apply, the first in this list wins.
	ContextSets []ContextSetConfig `yaml:"context_sets"`
	// Contexts set the value per context, and per user inside it.
	Contexts map[string]ContextCascadeConfig `yaml:"contexts"`
}

// ContextSetConfig is a named list of contexts.
type ContextSetConfig struct {
	// Name names the set (also as named by the session attribute).
	Name string `yaml:"name"`
	// Contexts are the set's members.
	Contexts []string `yaml:"contexts"`
	// Enabled is the set's value (required).
	Enabled *bool `yaml:"enabled"`
}

// ContextCascadeConfig sets the value for one context and its users.
type ContextCascadeConfig struct {
	// Enabled is the context's value.
	Enabled *bool `yaml:"enabled"`
	// Users maps user ids in this context to their value.
	Users map[string]bool `yaml:"users"`
}

// TranscoderConfig is one WASM transcoder module.
type TranscoderConfig struct {
	// File is a .wasm file (ABI v1). Set File or Builtin.
	File string `yaml:"file"`
	// Builtin names a module embedded in the binary: identity or socketio.
	Builtin string `yaml:"builtin"`
	// Config is an opaque string handed to every instance of the module at
	// start (the socketio module reads JSON: pingInterval, pingTimeout, maxPayload).
	Config string `yaml:"config"`
	// Watch reloads the module when File changes (checked every 2s).
	Watch bool `yaml:"watch"`
	// CallTimeout is the wall-clock budget of one call (default 250ms); a
	// call over it fails and its socket is closed with 1011.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// MaxMemory caps each instance's linear memory (default 32MiB).
	MaxMemory ByteSize `yaml:"max_memory"`
	// MaxEmit caps the bytes one call may write and deliver (default 4MiB).
	MaxEmit ByteSize `yaml:"max_emit"`
	// MaxInstances bounds the module's instance pool (default 2 per CPU).
	MaxInstances int `yaml:"max_instances"`
}

// WASMConfig configures the WebAssembly runtime.
type WASMConfig struct {
	// CacheDir keeps compiled modules across restarts ("" keeps them in
	// memory only). Default: $XDG_CACHE_HOME/edgews/wazero or
	// ~/.cache/edgews/wazero. An unusable directory falls back to memory.
	CacheDir string `yaml:"cache_dir"`
}

// ClusterConfig configures clustering; empty Bind runs a single node.
type ClusterConfig struct {
	// Bind is the host:port this node gossips on (UDP and TCP); the host
	// must be an IP address. Empty: no cluster.
	Bind string `yaml:"bind"`
	// Advertise is the host:port other nodes reach this node's gossip at
	// (default: Bind).
	Advertise string `yaml:"advertise"`
	// Join lists host:port gossip addresses of nodes to join at start;
	// joining is retried in the background until one answers.
	Join []string `yaml:"join"`
	// EncryptKey is a base64 16, 24 or 32 byte key: all gossip is encrypted
	// and authenticated with it, and node-to-node payload requests are
	// signed with a key derived from it. Required off loopback. Every node
	// needs the same key.
	EncryptKey string `yaml:"encrypt_key"`
	// EncryptKeyFile reads EncryptKey from a file instead.
	EncryptKeyFile string `yaml:"encrypt_key_file"`
	// InternalBind is the host:port of the node-to-node payload path
	// (HTTP). Default: the host of Bind with a free port; it is advertised
	// to the other nodes.
	InternalBind string `yaml:"internal_bind"`
	// InternalAdvertise is the host:port other nodes reach the payload path
	// at (default: the advertised gossip host with the bound port).
	InternalAdvertise string `yaml:"internal_advertise"`
	// ExistsTimeout bounds a cluster-wide exists; on a healthy cluster it
	// returns long before (as soon as one node says yes, or all said no).
	ExistsTimeout time.Duration `yaml:"exists_timeout"`
	// FailedQueueGrace keeps the queue of a node declared failed this long,
	// in case it was only unreachable; then its messages are dropped and
	// counted.
	FailedQueueGrace time.Duration `yaml:"failed_queue_grace"`
	// LeaveTimeout bounds flushing the remote queues and announcing the
	// leave on shutdown (after the sockets are drained).
	LeaveTimeout time.Duration `yaml:"leave_timeout"`
	// ReconnectInterval is how often this node tries to reach members it
	// declared failed (how soon a healed partition is noticed).
	ReconnectInterval time.Duration `yaml:"reconnect_interval"`
	// Remote holds the remote queue settings (reloadable), named after the
	// Open-Xchange remote communication settings.
	Remote RemoteQueueConfig `yaml:"remote" reload:"true"`
}

// RemoteQueueConfig controls the queues of messages bound for other nodes,
// one per destination.
type RemoteQueueConfig struct {
	// Delay is how long a message waits for more to batch with; 0 sends at once.
	Delay time.Duration `yaml:"delay"`
	// MaxDelay is the most any message waits (at least Delay).
	MaxDelay time.Duration `yaml:"max_delay"`
	// TimerFrequency is how often waiting messages are checked for being due.
	TimerFrequency time.Duration `yaml:"timer_frequency"`
	// MaxMessages bounds each destination's queue; overflow is dropped for
	// that destination, counted and logged.
	MaxMessages int `yaml:"max_messages"`
	// MaxBytes bounds each destination's queued bytes.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// WebhookConfig configures the built-in webhook listener.
type WebhookConfig struct {
	// URL receives POSTed batches of events; empty disables the webhook.
	URL string `yaml:"url"`
	// Events to send: any of connect, close, message (default all three).
	Events []string `yaml:"events"`
	// Headers are added to every POST (e.g. Authorization).
	Headers map[string]string `yaml:"headers"`
	// BatchSize is the most events in one POST.
	BatchSize int `yaml:"batch_size"`
	// BatchInterval is how long the first event of a batch waits for more.
	BatchInterval time.Duration `yaml:"batch_interval"`
	// QueueSize bounds buffered events; overflow is counted and logged.
	QueueSize int `yaml:"queue_size"`
	// Timeout bounds one POST.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries retries a failed POST with exponential backoff; then its
	// events are counted as failed.
	MaxRetries int `yaml:"max_retries"`
}

func boolPtr(b bool) *bool { return &b }

func defaultWASMCacheDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "edgews", "wazero")
}

// DefaultConfig returns the production defaults. It has no routes and no
// verifier: a production config must name them.
func DefaultConfig() Config {
	return Config{
		Listen:       ":8080",
		Admin:        AdminConfig{Listen: "127.0.0.1:8081"},
		Log:          LogConfig{Level: "info", Format: "text"},
		WASM:         WASMConfig{CacheDir: defaultWASMCacheDir()},
		Session:      SessionConfig{Param: "session", VerifyTimeout: 5 * time.Second},
		DrainTimeout: 10 * time.Second,
		Limits: LimitsConfig{
			OnUserLimit:       "refuse",
			MaxMessageSize:    1 << 20,
			MaxFragments:      4096,
			MaxControlFrames:  50,
			MaxPartialBytes:   256 << 20,
			UpgradeBurstPerIP: 20,
			MaxHeaderBytes:    8 << 10,
			HandshakeTimeout:  10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      10 * time.Second,
			CloseTimeout:      5 * time.Second,
			PingInterval:      25 * time.Second,
			PongTimeout:       20 * time.Second,
			QueueMessages:     1024,
			QueueBytes:        4 << 20,
			OnQueueFull:       "close",
		},
		Cascade: CascadeConfig{Enabled: boolPtr(true), ContextSetAttribute: "context_sets"},
		Cluster: ClusterConfig{
			ExistsTimeout:     time.Second,
			FailedQueueGrace:  30 * time.Second,
			LeaveTimeout:      5 * time.Second,
			ReconnectInterval: 10 * time.Second,
			Remote: RemoteQueueConfig{
				Delay:          5 * time.Millisecond,
				MaxDelay:       20 * time.Millisecond,
				TimerFrequency: 2 * time.Millisecond,
				MaxMessages:    100_000,
				MaxBytes:       64 << 20,
			},
		},
		Webhook: WebhookConfig{
			Events:        []string{"connect", "close", "message"},
			BatchSize:     100,
			BatchInterval: 200 * time.Millisecond,
			QueueSize:     10000,
			Timeout:       5 * time.Second,
			MaxRetries:    5,
		},
	}
}

// DevConfig is what `edgews` runs with no configuration: dev mode, the dev
// verifier, a plain route /ws, an echo route /echo and Socket.IO on
// /socket.io/* (the embedded socketio transcoder), the admin API on loopback
// without a token. The Origin check stays on.
func DevConfig() Config {
	c := DefaultConfig()
	c.Dev = true
	c.Session.Verifier = "dev"
	c.Routes = []RouteConfig{
		{Path: "/ws"},
		{Path: "/echo", Echo: true},
		{Path: "/socket.io/*", Transcoder: "socketio"},
	}
	c.Transcoders = map[string]TranscoderConfig{"socketio": {Builtin: "socketio"}}
	return c
}
