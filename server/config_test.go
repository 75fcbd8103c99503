package server

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigs(t *testing.T) {
	t.Parallel()
	dev := DevConfig()
	if err := dev.Validate(); err != nil {
		t.Fatalf("DevConfig does not validate: %v", err)
	}
	def := DefaultConfig()
	err := def.Validate()
	for _, want := range []string{"session.verifier: required", "routes: at least one route"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DefaultConfig: %v, want %q", err, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(`
listen: ":9000"
session:
  verifier: jwt
  jwt:
    keys:
      - algorithm: HS256
        secret: "0123456789abcdef0123456789abcdef"
routes:
  - path: /socket.io/*
    max_message_size: 64KiB
    compression: {enabled: true, level: 3}
limits:
  queue_bytes: 2MiB
  ping_interval: 15s
cascade:
  contexts:
    "7": {enabled: false, users: {alice: true}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":9000" || cfg.Routes[0].MaxMessageSize != 64<<10 || cfg.Limits.QueueBytes != 2<<20 ||
		cfg.Limits.PingInterval != 15*time.Second || cfg.Limits.PongTimeout != 20*time.Second ||
		!cfg.Routes[0].Compression.Enabled || cfg.Cascade.Contexts["7"].Users["alice"] != true || cfg.Dev {
		t.Fatalf("parsed %+v", cfg)
	}
	// dev: true starts from the dev defaults.
	dev, err := ParseConfig([]byte("dev: true\n"))
	if err != nil || dev.Session.Verifier != "dev" || len(dev.Routes) != 3 || dev.Validate() != nil {
		t.Fatalf("dev file: %+v %v", dev, err)
	}
}

// TestConfigErrorsNameTheKey: every invalid key or value fails naming it.
func TestConfigErrorsNameTheKey(t *testing.T) {
	t.Parallel()
	base := "session: {verifier: http, http: {url: 'http://127.0.0.1:1/check'}}\nroutes: [{path: /ws}]\n"
	tests := []struct {
		yaml string
		want string
	}{
		{"listne: ':1'\n" + base, `unknown key "listne" (line 1); did you mean "listen"?`},
		{base + "limits: {ping-interval: 5s}\n", `unknown key "limits.ping-interval" (line 3); did you mean "ping_interval"?`},
		{"session: {verifier: http, http: {url: 'http://x/'}}\nroutes: [{path: /ws, compresion: {enabled: true}}]\n", `unknown key "routes[0].compresion"`},
		{base + "cascade: {contexts: {'1': {users: {a: true}, enabld: false}}}\n", `unknown key "cascade.contexts[1].enabld"`},
		{base + "limits: {ping_interval: soon}\n", "ping_interval"},
		{base + "limits: {queue_bytes: lots}\n", `"lots" is not a size`},
		{"session: {verifier: http}\nroutes: [{path: /ws}]\n", "session.http.url: required"},
		{"session: {verifier: dev}\nroutes: [{path: /ws}]\n", `session.verifier: "dev" is only allowed in dev mode`},
		{"session: {verifier: magic}\nroutes: [{path: /ws}]\n", `session.verifier: "magic" is not one of`},
		{base + "admin: {listen: '0.0.0.0:8081'}\n", "admin.token: required when admin.listen (0.0.0.0:8081) is not a loopback address"},
		{"session: {verifier: http, http: {url: 'http://x/'}}\nroutes: [{path: /ws}, {path: 'socket.io'}]\n", `routes[1].path: pathfilter: invalid path filter: "socket.io" must start with "/"`},
		{"session: {verifier: http, http: {url: 'http://x/'}}\nroutes: [{path: /ws}, {path: /ws}]\n", `routes[1].path: "/ws" is also routes[0]`},
		{base + "origins: ['https://ok.example', 'not an origin']\n", `origins[1]: "not an origin" is not an origin`},
		{base + "limits: {on_queue_full: explode}\n", `limits.on_queue_full: "explode" is not one of close, drop_oldest`},
		{base + "limits: {write_timeout: 0s}\n", "limits.write_timeout: must be positive"},
		{base + "log: {level: loud}\n", `log.level: "loud" is not one of`},
		{base + "webhook: {url: 'ftp://x'}\n", "webhook.url"},
		{"- a\n- b\n", "the top level must be a mapping"},
		{"routes: [{path: /ws, subprotocols: ['a b']}]\nsession: {verifier: http, http: {url: 'http://x/'}}\n", "routes[0].subprotocols[0]"},
	}
	for _, tt := range tests {
		cfg, err := ParseConfig([]byte(tt.yaml))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrConfig) {
			t.Errorf("config:\n%s\ngot error: %v\nwant it to contain: %s", tt.yaml, err, tt.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]ByteSize{"0": 0, "512": 512, "64KiB": 64 << 10, "1MiB": 1 << 20, "2 GiB": 2 << 30, "1KB": 1000, "3B": 3} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "lots", "1TiB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if ByteSize(1<<20).String() != "1MiB" || ByteSize(1000).String() != "1000" {
		t.Fatal("String")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("listen: ':8080'\nroutes: [{path: /ws, max_message_size: 1MiB}]\n"))
	f.Add([]byte("cascade: {contexts: {'1': {users: {a: true}}}}\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		_ = cfg.Validate() // must not panic
	})
}
