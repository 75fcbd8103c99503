package gossip

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestParseSerfLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		level     slog.Level
		component string
		msg       string
	}{
		{"[WARN] memberlist: Was able to connect to b over TCP but UDP probes failed\n", slog.LevelWarn, "memberlist", "Was able to connect to b over TCP but UDP probes failed"},
		{"[ERR] serf: Failed to join: dial tcp", slog.LevelError, "serf", "Failed to join: dial tcp"},
		{"[ERROR] memberlist: x", slog.LevelError, "memberlist", "x"},
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:5", slog.LevelDebug, "memberlist", "Stream connection from=127.0.0.1:5"},
		{"[TRACE] serf: t", slog.LevelDebug, "serf", "t"},
		{"[INFO] serf: EventMemberJoin: b 127.0.0.2", slog.LevelInfo, "serf", "EventMemberJoin: b 127.0.0.2"},
		{"[NOTICE] something", slog.LevelInfo, "", "something"},
		{"no level at all", slog.LevelInfo, "", "no level at all"},
		{"[unterminated", slog.LevelInfo, "", "[unterminated"},
		{"", slog.LevelInfo, "", ""},
	}
	for _, tt := range tests {
		level, component, msg := parseSerfLine([]byte(tt.in))
		if level != tt.level || component != tt.component || string(msg) != tt.msg {
			t.Errorf("parseSerfLine(%q) = %v, %q, %q; want %v, %q, %q", tt.in, level, component, msg, tt.level, tt.component, tt.msg)
		}
	}
}

// recordHandler keeps the records it handles.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
	level   slog.Level
}

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestSerfLoggerRoutesIntoSlog(t *testing.T) {
	t.Parallel()
	h := &recordHandler{level: slog.LevelInfo}
	l := newSerfLogger(slog.New(h))
	l.Printf("[WARN] memberlist: Refuting a suspect message (from: %s)", "b")
	l.Printf("[DEBUG] memberlist: hidden below the handler's level")
	l.Printf("[ERR] serf: boom")
	if len(h.records) != 2 {
		t.Fatalf("got %d records, want 2", len(h.records))
	}
	r := h.records[0]
	if r.Level != slog.LevelWarn || r.Message != "Refuting a suspect message (from: b)" {
		t.Fatalf("record = %v %q", r.Level, r.Message)
	}
	var component string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "component" {
			component = a.Value.String()
		}
		return true
	})
	if component != "memberlist" {
		t.Fatalf("component = %q", component)
	}
	if h.records[1].Level != slog.LevelError {
		t.Fatalf("second record level = %v", h.records[1].Level)
	}
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	r := newRateLimiter(time.Second)
	t0 := time.Unix(0, 0)
	if ok, _ := r.allow("k", t0); !ok {
		t.Fatal("first line held back")
	}
	for i := range 5 {
		if ok, _ := r.allow("k", t0.Add(time.Duration(i)*100*time.Millisecond)); ok {
			t.Fatalf("line %d within the interval let through", i)
		}
	}
	if ok, _ := r.allow("other", t0); !ok {
		t.Fatal("independent key held back")
	}
	ok, suppressed := r.allow("k", t0.Add(time.Second))
	if !ok || suppressed != 5 {
		t.Fatalf("after the interval: ok=%v suppressed=%d, want true 5", ok, suppressed)
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	var h histogram
	if len(h.buckets) != len(latencyBounds)+1 {
		t.Fatalf("%d buckets for %d bounds", len(h.buckets), len(latencyBounds))
	}
	for _, d := range []time.Duration{100 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, time.Minute} {
		h.observe(d)
	}
	s := h.snapshot()
	if s.Count != 4 || s.Cumulative[0] != 1 || s.Cumulative[3] != 3 || s.Cumulative[len(s.Cumulative)-1] != 3 {
		t.Fatalf("snapshot = %+v", s)
	}
	if s.Sum < 60 || s.Sum > 60.01 {
		t.Fatalf("Sum = %v", s.Sum)
	}
}
