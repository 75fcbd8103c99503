package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/edgews/edgews/server/internal/wsproto"
)

// TestHostilePartialMessages: sockets that start large messages and do not
// finish them are held to limits.max_partial_bytes between them. Two
// sockets each hold the first 64 KiB of a message; a third whose 160 KiB
// would take the node past a 256 KiB cap is closed with 1013 and counted,
// while the two finish their messages and get them echoed whole, and a
// probe on the same route keeps echoing (its messages arrive in one read
// and are never charged). Afterwards the budget is back to zero.
func TestHostilePartialMessages(t *testing.T) {
	const limit = 256 << 10
	ts := startServer(t, func(c *Config) { c.Limits.MaxPartialBytes = limit })
	p := newProbe(t, ts, ts.login("probe", "p"))
	sess := ts.login("uploader", "1")
	dial := func() *rawConn {
		c, resp, body, err := rawUpgrade(ts.Addr().String(), "", "/echo?session="+sess)
		if err != nil || c == nil {
			t.Fatalf("upgrade: %v %v %s", err, resp, body)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b, c := dial(), dial(), dial()
	chunk := bytes.Repeat([]byte("p"), 64<<10)

	before := p.measure(20)
	st0 := ts.stats()
	var heldAB int64
	during := p.during(func() {
		a.Write(clientFrame(false, wsproto.OpBinary, 0, chunk))
		b.Write(clientFrame(false, wsproto.OpBinary, 0, chunk))
		eventually(t, "A and B hold their first fragments", func() bool {
			heldAB = ts.partial.Used()
			return heldAB >= 2*int64(len(chunk))
		})
		c.Write(clientFrame(false, wsproto.OpBinary, 0, bytes.Repeat([]byte("c"), 160<<10)))
		code, reason, _, err := c.readClose(10 * time.Second)
		if err != nil || code != 1013 || reason != "server busy: too many partly received messages" {
			t.Errorf("C: close %d %q, %v; want 1013", code, reason, err)
		}
		for name, s := range map[string]*rawConn{"A": a, "B": b} {
			s.Write(clientFrame(true, wsproto.OpContinuation, 0, []byte("end")))
			s.SetReadDeadline(time.Now().Add(10 * time.Second))
			f, err := s.readFrame()
			if err != nil || f.op != wsproto.OpBinary || len(f.payload) != len(chunk)+3 || !bytes.HasSuffix(f.payload, []byte("pend")) {
				t.Errorf("%s: echo %d %d bytes, %v; want its whole message back", name, f.op, len(f.payload), err)
			}
		}
	})
	eventually(t, "the budget is given back", func() bool { return ts.partial.Used() == 0 })
	var st Stats
	eventually(t, "the refusal is counted", func() bool {
		st = ts.stats()
		return st.Closed["partial_budget"]-st0.Closed["partial_budget"] == 1
	})
	m := ts.scrape()
	if v := m.sum("edgews_socket_events_total", "route", "/echo", "event", "partial_budget"); v != 1 {
		t.Errorf("partial_budget events on /echo: %v, want 1", v)
	}
	if v := m.sum("edgews_partial_message_bytes"); v != 0 {
		t.Errorf("edgews_partial_message_bytes = %v after every message completed", v)
	}
	report(t, "partly received messages over limits.max_partial_bytes (256 KiB): 2 sockets hold 64 KiB each, a third sends 160 KiB", before, during,
		"held by A and B", heldAB, "closed 1013 partial_budget", 1, "A and B echoed whole", 2)
}
