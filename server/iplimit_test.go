package server

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// dialFrom opens a socket from a chosen loopback source address.
func (ts *testServer) dialFrom(src, path, session string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		NetDial: func(network, addr string) (net.Conn, error) {
			return (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).Dial(network, addr)
		},
	}
	return d.Dial(ts.ws+path+"?session="+session, nil)
}

func TestPerIPLimits(t *testing.T) {
	t.Parallel()
	t.Run("sockets per IP", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, func(c *Config) { c.Limits.MaxSocketsPerIP = 2 })
		for i := range 2 {
			c, resp, err := ts.dialFrom("127.0.0.1", "/ws", ts.login("u", "1"))
			if err != nil {
				t.Fatalf("socket %d: %v %s", i, err, respText(resp))
			}
			defer c.Close()
		}
		eventually(t, "2 sockets", func() bool { return ts.reg.total.Load() == 2 })
		if _, resp, err := ts.dialFrom("127.0.0.1", "/ws", ts.login("u", "1")); err == nil || resp.StatusCode != 429 || resp.Header.Get("X-Edgews-Reject") != "ip_limit" {
			t.Fatalf("third socket from the same IP: %v %s", err, respText(resp))
		}
		c, resp, err := ts.dialFrom("127.0.0.2", "/ws", ts.login("u", "1"))
		if err != nil {
			t.Fatalf("another IP: %v %s", err, respText(resp))
		}
		c.Close()
	})
	t.Run("upgrade rate per IP", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, func(c *Config) {
			c.Limits.UpgradeRatePerIP = 2
			c.Limits.UpgradeBurstPerIP = 3
		})
		sess := ts.login("r", "1")
		limited := 0
		for range 10 {
			c, resp, err := ts.dialFrom("127.0.0.3", "/ws", sess)
			if err == nil {
				c.Close()
				continue
			}
			if resp.StatusCode != 429 || resp.Header.Get("X-Edgews-Reject") != "ip_rate" || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("unexpected refusal: %s", respText(resp))
			}
			limited++
		}
		if limited < 5 {
			t.Fatalf("only %d of 10 rapid upgrades were limited (burst 3)", limited)
		}
		c, resp, err := ts.dialFrom("127.0.0.4", "/ws", sess)
		if err != nil {
			t.Fatalf("another IP is not limited: %v %s", err, respText(resp))
		}
		c.Close()
	})
	t.Run("pending connections per IP", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, func(c *Config) { c.Limits.MaxPendingPerIP = 3 })
		var idle []net.Conn
		for range 3 {
			c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}).Dial("tcp", ts.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			idle = append(idle, c)
		}
		time.Sleep(100 * time.Millisecond) // let the server accept them
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}).Dial("tcp", ts.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.1 429") {
			t.Fatalf("4th pending connection answered %q", b)
		}
		// Others are served meanwhile.
		ok, resp, err := ts.dialFrom("127.0.0.6", "/ws", ts.login("p", "1"))
		if err != nil {
			t.Fatalf("another IP: %v %s", err, respText(resp))
		}
		ok.Close()
		// Upgraded sockets stop counting as pending: more sockets than the
		// pending cap, from one address, once the idle connections are gone.
		for _, c := range idle {
			c.Close()
		}
		sess := ts.login("q", "1")
		for i := range 6 {
			var c *websocket.Conn
			var resp *http.Response
			var err error
			for attempt := 0; attempt < 50; attempt++ { // idle ones are released as the server notices
				if c, resp, err = ts.dialFrom("127.0.0.5", "/ws", sess); err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("socket %d from one address: %v %s", i, err, respText(resp))
			}
			defer c.Close()
		}
	})
}

func TestIPLimiterSweep(t *testing.T) {
	t.Parallel()
	l := newIPLimiter()
	now := time.Now()
	l.allowUpgrade("10.0.0.1", 1, 1, now)
	l.add("10.0.0.2", 1)
	l.sweep(now.Add(2 * time.Minute))
	if l.size() != 1 || l.sockets("10.0.0.2") != 1 {
		t.Fatalf("sweep kept %d entries", l.size())
	}
	l.add("10.0.0.2", -1)
	l.sweep(now.Add(4 * time.Minute))
	if l.size() != 0 {
		t.Fatalf("sweep kept %d entries", l.size())
	}
}
