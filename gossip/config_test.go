package gossip

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsValid(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	if _, err := c.validate(); err != nil {
		t.Fatalf("DefaultConfig does not validate: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // must appear in the error; "" means valid
	}{
		{"loopback without key", func(c *Config) { c.BindAddr = "127.0.0.5:0" }, ""},
		{"ipv6 loopback without key", func(c *Config) { c.BindAddr = "[::1]:7946" }, ""},
		{"all interfaces without key", func(c *Config) { c.BindAddr = "0.0.0.0:7946" }, "EncryptKey"},
		{"LAN address without key", func(c *Config) { c.BindAddr = "10.0.0.1:7946" }, "EncryptKey"},
		{"LAN internal address without key", func(c *Config) { c.InternalBindAddr = "10.0.0.1:7947" }, "EncryptKey"},
		{"LAN address with key", func(c *Config) { c.BindAddr = "0.0.0.0:7946"; c.EncryptKey = testKey }, ""},
		{"16-byte key", func(c *Config) { c.EncryptKey = "MDEyMzQ1Njc4OWFiY2RlZg==" }, ""},
		{"short key", func(c *Config) { c.EncryptKey = "c2hvcnQ=" }, "EncryptKey"},
		{"key not base64", func(c *Config) { c.EncryptKey = "not base64!" }, "EncryptKey"},
		{"host name as bind", func(c *Config) { c.BindAddr = "localhost:7946" }, "BindAddr"},
		{"bind without port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "BindAddr"},
		{"bad advertise", func(c *Config) { c.AdvertiseAddr = "nowhere" }, "AdvertiseAddr"},
		{"bad join address", func(c *Config) { c.Join = []string{"127.0.0.1:1", "x"} }, "Join[1]"},
		{"empty node name", func(c *Config) { c.NodeName = "" }, "NodeName"},
		{"node name with newline", func(c *Config) { c.NodeName = "a\nb" }, "NodeName"},
		{"longest node name", func(c *Config) { c.NodeName = strings.Repeat("n", MaxNodeName) }, ""},
		{"node name too long", func(c *Config) { c.NodeName = strings.Repeat("n", MaxNodeName+1) }, "NodeName"},
		{"short payload secret", func(c *Config) { c.PayloadSecret = "secret" }, "PayloadSecret"},
		{"payload secret", func(c *Config) { c.PayloadSecret = "a long enough payload secret" }, ""},
		{"reserved tag", func(c *Config) { c.Tags = map[string]string{"ew_x": "1"} }, "Tags"},
		{"negative delay", func(c *Config) { c.Queue.Delay = -1 }, "Queue.Delay"},
		{"max delay below delay", func(c *Config) { c.Queue.MaxDelay = c.Queue.Delay - 1 }, "Queue.MaxDelay"},
		{"zero timer frequency", func(c *Config) { c.Queue.TimerFrequency = 0 }, "Queue.TimerFrequency"},
		{"zero queue bound", func(c *Config) { c.Queue.MaxMessages = 0 }, "Queue.MaxMessages"},
		{"zero message size", func(c *Config) { c.MaxMessageSize = 0 }, "MaxMessageSize"},
		{"huge message size", func(c *Config) { c.MaxMessageSize = 2 << 30 }, "MaxMessageSize"},
		{"probe timeout above interval", func(c *Config) { c.Timing.ProbeTimeout = time.Second }, "Timing.ProbeTimeout"},
		{"TLS half configured", func(c *Config) { c.PayloadTLS = tlsServerConfig(t) }, "PayloadTLS"},
		{"retry interval above max", func(c *Config) { c.JoinRetryInterval = time.Hour }, "JoinRetryInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			tt.mutate(&c)
			_, err := New(c, newMemLocal(), nil)
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.field != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.field)):
				t.Fatalf("New error = %v, want ErrConfig naming %s", err, tt.field)
			}
		})
	}
	if _, err := New(DefaultConfig(), nil, nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("New without Local: %v", err)
	}
}

func TestFailureDetectionBound(t *testing.T) {
	t.Parallel()
	tm := DefaultTiming()
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{
		{1, 0},
		{3, 1610 * time.Millisecond},
		{10, 6020 * time.Millisecond},
	} {
		if got := tm.FailureDetectionBound(tt.n); got != tt.want {
			t.Errorf("FailureDetectionBound(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}

func TestBatchDue(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	s := &QueueSettings{Delay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, TimerFrequency: time.Millisecond}
	zero := &QueueSettings{MaxDelay: 0, TimerFrequency: time.Millisecond}
	ms := time.Millisecond
	tests := []struct {
		name           string
		s              *QueueSettings
		now            time.Time
		oldest, newest time.Duration // before now
		count          int
		bytes          int64
		want           bool
	}{
		{"empty", s, t0, 0, 0, 0, 0, false},
		{"delay 0 sends at once", zero, t0, 0, 0, 1, 1, true},
		{"fresh message waits", s, t0, 1 * ms, 1 * ms, 1, 1, false},
		{"quiet for Delay", s, t0, 10 * ms, 10 * ms, 1, 1, true},
		{"burst keeps it open", s, t0, 40 * ms, 2 * ms, 3, 9, false},
		{"MaxDelay cuts a steady stream", s, t0, 50 * ms, 1 * ms, 3, 30, true},
		{"full by count", s, t0, 0, 0, 4, 1, true},
		{"full by bytes", s, t0, 0, 0, 1, 100, true},
	}
	for _, tt := range tests {
		got := batchDue(tt.s, tt.now, tt.now.Add(-tt.oldest), tt.now.Add(-tt.newest), tt.count, tt.bytes, 4, 100)
		if got != tt.want {
			t.Errorf("%s: batchDue = %v, want %v", tt.name, got, tt.want)
		}
	}
}
