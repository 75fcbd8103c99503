package server

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/golang-jwt/jwt/v5"
)

var clusterKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// freeAddr returns a free host:port on ip (TCP and UDP, for serf).
func freeAddr(t *testing.T, ip string) string {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

// startCluster starts n jwt-verifying nodes on 127.0.0.1..n joined together.
func startCluster(t *testing.T, n int, mutate func(i int, c *Config)) []*testServer {
	t.Helper()
	var nodes []*testServer
	var first string
	for i := range n {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		bind := freeAddr(t, ip)
		ts := startServer(t, func(c *Config) {
			c.NodeName = fmt.Sprintf("node%d", i+1)
			c.Listen = ip + ":0"
			c.Session.Verifier = "jwt"
			c.Session.JWT = JWTVerifierConfig{Keys: []JWTKeyConfig{{Algorithm: "HS256", Secret: testSecret}}}
			c.Cluster.Bind = bind
			c.Cluster.EncryptKey = clusterKey
			if first != "" {
				c.Cluster.Join = []string{first}
			}
			if mutate != nil {
				mutate(i, c)
			}
		})
		if first == "" {
			first = bind
		}
		nodes = append(nodes, ts)
	}
	for _, ts := range nodes {
		eventually(t, "cluster formed", func() bool {
			alive := 0
			for _, m := range ts.Members() {
				if m.Status == "alive" {
					alive++
				}
			}
			return alive == n
		})
	}
	return nodes
}

// sessToken signs a session for user in context 1.
func sessToken(t *testing.T, user, sid string) string {
	return signHS(t, jwt.MapClaims{"sub": user, "context": "1", "sid": sid, "exp": time.Now().Add(time.Hour).Unix()})
}

func TestClusterSendExistsInvalidate(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3, nil)
	a, b, c := nodes[0], nodes[1], nodes[2]
	onB := b.mustDial("/ws", sessToken(t, "alice", "sb"))
	onC := c.mustDial("/ws", sessToken(t, "alice", "sc"))
	eventually(t, "sockets registered", func() bool {
		return b.reg.total.Load() == 1 && c.reg.total.Load() == 1
	})

	// Exists on A sees the socket on C under a matching filter only.
	var ex ExistsResult
	if a.api("GET", "/api/v1/exists?context=1&user=alice&path=/ws", nil, &ex); !ex.Exists {
		t.Fatalf("exists across the cluster: %+v", ex)
	}
	if a.api("GET", "/api/v1/exists?context=1&user=alice&path=/socket.io/*", nil, &ex); ex.Exists {
		t.Fatalf("exists under a non-matching filter: %+v", ex)
	}
	if a.api("GET", "/api/v1/exists?context=1&user=alice&scope=local", nil, &ex); ex.Exists {
		t.Fatalf("scope=local on A: %+v", ex)
	}
	if a.api("GET", "/api/v1/exists?context=1&user=nobody", nil, &ex); ex.Exists || !ex.Complete {
		t.Fatalf("negative exists: %+v", ex)
	}

	// Send on A: every socket on B and C, once, in order.
	const count = 200
	for i := range count {
		var sr SendResult
		if st := a.api("POST", "/api/v1/send", fmt.Sprintf(`{"context":"1","user":"alice","message":"m%d"}`, i), &sr); st != 202 || sr.Nodes != 2 {
			t.Fatalf("send %d: %d %+v", i, st, sr)
		}
	}
	for _, conn := range []*websocket.Conn{onB, onC} {
		for i := range count {
			if got := readText(t, conn); got != fmt.Sprintf("m%d", i) {
				t.Fatalf("message %d: got %q (order or duplicates wrong)", i, got)
			}
		}
	}

	// A 512 KiB message crosses nodes; it must be the very next message
	// (no duplicates of the stream above in between).
	big := strings.Repeat("x", 512<<10)
	a.api("POST", "/api/v1/send", map[string]string{"context": "1", "user": "alice", "path": "/ws", "message": big}, nil)
	for _, conn := range []*websocket.Conn{onB, onC} {
		if got := readText(t, conn); got != big {
			t.Fatalf("512 KiB message: got %d bytes (%.20q)", len(got), got)
		}
	}

	// Cluster stats sum the nodes.
	var st Stats
	a.api("GET", "/api/v1/stats", nil, &st)
	if st.Nodes != 3 || st.Sockets != 2 {
		t.Fatalf("cluster stats: nodes %d sockets %d", st.Nodes, st.Sockets)
	}

	// Invalidation on A closes the session's socket on C.
	var out map[string]int
	a.api("DELETE", "/api/v1/sessions/sc", nil, &out)
	if out["closed"] != 1 {
		t.Fatalf("invalidate: %v", out)
	}
	if code, reason := readClose(t, onC); code != 4401 || reason != "session invalidated" {
		t.Fatalf("close on C: %d %q", code, reason)
	}
	var members struct{ Members []MemberInfo }
	a.api("GET", "/api/v1/members", nil, &members)
	if len(members.Members) != 3 || members.Members[1].WebSocket == "" {
		t.Fatalf("members %+v", members.Members)
	}
}

// TestClusterRemoteQueueReload: the remote queue settings change at runtime.
func TestClusterRemoteQueueReload(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, func(i int, c *Config) {
		c.Cluster.Remote.Delay = 0
		c.Cluster.Remote.MaxDelay = 0
	})
	a, b := nodes[0], nodes[1]
	conn := b.mustDial("/ws", sessToken(t, "bob", "s1"))
	eventually(t, "registered", func() bool { return b.reg.total.Load() == 1 })
	batches := func() uint64 { return a.cluster.Metrics().BatchesSent }
	msg := func(i int) Message { return Message{Type: TextMessage, Data: []byte(fmt.Sprint(i))} }
	// Delay 0: one at a time, each message is its own batch.
	before := batches()
	for i := range 20 {
		a.Send(t.Context(), Target{Context: "1", User: "bob"}, msg(i))
		readText(t, conn)
	}
	eventually(t, "20 batches acknowledged", func() bool { return batches()-before == 20 })

	cfg := *a.Config()
	cfg.Cluster.Remote.Delay = 300 * time.Millisecond
	cfg.Cluster.Remote.MaxDelay = time.Second
	if _, err := a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := a.cluster.QueueSettings().Delay; got != 300*time.Millisecond {
		t.Fatalf("delay after reload %v", got)
	}
	// Delay 300ms: a burst of 20 goes out in one or two batches.
	before = batches()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Send(t.Context(), Target{Context: "1", User: "bob"}, msg(i))
		}()
	}
	wg.Wait()
	for range 20 {
		readText(t, conn)
	}
	eventually(t, "burst acknowledged", func() bool { return batches() > before })
	if n := batches() - before; n > 2 {
		t.Fatalf("with a 300ms delay a burst of 20 went in %d batches", n)
	}
}
