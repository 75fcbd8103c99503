package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// wsClientMain is what this test binary does when re-executed inside a
// network namespace as a WebSocket client: print each text message on its
// own line until the socket ends.
func wsClientMain(url string) int {
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return 1
	}
	fmt.Println("OPEN")
	for {
		_, m, err := c.ReadMessage()
		if err != nil {
			fmt.Println("CLOSED", err)
			return 0
		}
		fmt.Println(string(m))
	}
}

// netns is a network namespace this test created.
type netns string

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// nsClient is a WebSocket client running in a namespace.
type nsClient struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	msgs []string
}

func (c *nsClient) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// TestClusterPartition runs three edgews nodes in network namespaces joined
// by a bridge, cuts one off, and heals it.
//
// Asserted behaviour: during the partition each side declares the other
// failed; sends keep reaching the sockets on the sender's side; exists on
// the majority side stops seeing the cut-off node's sockets; messages for
// the cut-off node wait in its remote queue (cluster.failed_queue_grace).
// After healing, the nodes see each other alive again, the waiting messages
// arrive in order and once, and exists sees across again.
func TestClusterPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) is not installed; `just test-deps` installs it")
	}
	id := os.Getpid() % 100000
	hub := netns(fmt.Sprintf("ewhub%d", id))
	var nss []netns
	cleanup := func() {
		for _, n := range append(nss, hub) {
			exec.Command("ip", "netns", "del", string(n)).Run()
		}
	}
	t.Cleanup(cleanup)
	ipCmd(t, "netns", "add", string(hub))
	ipCmd(t, "-n", string(hub), "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", string(hub), "link", "set", "br0", "up")
	for i := 1; i <= 3; i++ {
		n := netns(fmt.Sprintf("ewn%d_%d", i, id))
		nss = append(nss, n)
		ipCmd(t, "netns", "add", string(n))
		ipCmd(t, "-n", string(n), "link", "set", "lo", "up")
		ipCmd(t, "-n", string(n), "link", "add", "eth0", "type", "veth", "peer", "name", fmt.Sprintf("p%d", i), "netns", string(hub))
		ipCmd(t, "-n", string(n), "addr", "add", fmt.Sprintf("10.77.0.%d/24", 10+i), "dev", "eth0")
		ipCmd(t, "-n", string(n), "link", "set", "eth0", "up")
		ipCmd(t, "-n", string(hub), "link", "set", fmt.Sprintf("p%d", i), "master", "br0")
		ipCmd(t, "-n", string(hub), "link", "set", fmt.Sprintf("p%d", i), "up")
	}
	cfg := filepath.Join(t.TempDir(), "edgews.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
listen: 127.0.0.1:8080
admin: {listen: 127.0.0.1:8081}
routes: [{path: /ws}]
session:
  verifier: jwt
  jwt: {keys: [{algorithm: HS256, secret: %q}]}
cluster:
  encrypt_key: %q
  reconnect_interval: 500ms
  failed_queue_grace: 60s
  remote: {delay: 0s, max_delay: 0s}
log: {level: warn}
`, jwtSecret, clusterKey)), 0o600)
	var procs []*exec.Cmd
	logs := make([]*syncBuffer, 3)
	for i, n := range nss {
		args := []string{"netns", "exec", string(n), binary, "--config", cfg, "--node-name", fmt.Sprintf("n%d", i+1),
			"--cluster-bind", fmt.Sprintf("10.77.0.%d:7946", 11+i)}
		if i > 0 {
			args = append(args, "--cluster-join", "10.77.0.11:7946")
		}
		cmd := exec.Command("ip", args...)
		logs[i] = &syncBuffer{}
		cmd.Stderr = logs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	// admin runs an edgews client subcommand inside a namespace.
	admin := func(n netns, args ...string) (string, int) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", string(n), binary}, args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	statusOf := func(n netns, name string) string {
		out, _ := admin(n, "members")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == name && f[1] == "(self)" {
				return f[2]
			}
			if len(f) >= 2 && f[0] == name {
				return f[1]
			}
		}
		return ""
	}
	waitFor := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > limit {
				t.Fatalf("timed out after %v waiting for %s\nn1: %s\nn3: %s", limit, what, logs[0], logs[2])
			}
			time.Sleep(50 * time.Millisecond)
		}
		return time.Since(start)
	}
	allAlive := func(n netns) bool {
		return statusOf(n, "n1") == "alive" && statusOf(n, "n2") == "alive" && statusOf(n, "n3") == "alive"
	}
	waitFor("cluster of 3", 20*time.Second, func() bool { return allAlive(nss[0]) && allAlive(nss[2]) })

	client := func(n netns, user, sid string) *nsClient {
		url := "ws://127.0.0.1:8080/ws?session=" + sign(t, user, sid)
		cmd := exec.Command("ip", "netns", "exec", string(n), os.Args[0])
		cmd.Env = append(os.Environ(), "EDGEWS_TEST_WSCLIENT="+url)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		c := &nsClient{cmd: cmd}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				c.mu.Lock()
				c.msgs = append(c.msgs, sc.Text())
				c.mu.Unlock()
			}
		}()
		waitFor("client open", 10*time.Second, func() bool { l := c.lines(); return len(l) > 0 && l[0] == "OPEN" })
		return c
	}
	c1 := client(nss[0], "u", "s1")
	c3 := client(nss[2], "u", "s3")
	client(nss[2], "only3", "sx")
	send := func(n netns, msg string) {
		if out, code := admin(n, "send", "--context", "1", "--user", "u", msg); code != 0 {
			t.Fatalf("send %q: %s", msg, out)
		}
	}
	exists := func(n netns, user string) bool {
		_, code := admin(n, "exists", "--context", "1", "--user", user)
		return code == 0
	}
	waitFor("only3 visible from n1", 10*time.Second, func() bool { return exists(nss[0], "only3") })
	send(nss[0], "before")
	waitFor("before on both", 10*time.Second, func() bool {
		return strings.Join(c1.lines(), ",") == "OPEN,before" && strings.Join(c3.lines(), ",") == "OPEN,before"
	})

	// Partition: cut n3 off the bridge.
	ipCmd(t, "-n", string(hub), "link", "set", "p3", "down")
	detect := waitFor("n1 declares n3 failed", 20*time.Second, func() bool { return statusOf(nss[0], "n3") == "failed" })
	waitFor("n3 declares n1 failed", 20*time.Second, func() bool { return statusOf(nss[2], "n1") == "failed" })
	t.Logf("partition detected by n1 after %v", detect)
	for i := range 5 {
		send(nss[0], fmt.Sprintf("during%d", i))
	}
	waitFor("n1's socket served during the partition", 10*time.Second, func() bool { return len(c1.lines()) == 7 })
	if exists(nss[0], "only3") {
		t.Fatal("n1 still reports the cut-off node's socket")
	}
	if got := c3.lines(); len(got) != 2 {
		t.Fatalf("n3's socket got %v across a partition", got)
	}

	// Heal.
	ipCmd(t, "-n", string(hub), "link", "set", "p3", "up")
	heal := waitFor("cluster healed", 30*time.Second, func() bool { return allAlive(nss[0]) && allAlive(nss[2]) })
	t.Logf("partition healed after %v", heal)
	send(nss[0], "after")
	want := "OPEN,before,during0,during1,during2,during3,during4,after"
	waitFor("queued messages delivered after healing", 20*time.Second, func() bool { return strings.Join(c3.lines(), ",") == want })
	waitFor("exists across again", 10*time.Second, func() bool { return exists(nss[0], "only3") })
	if got := strings.Join(c1.lines(), ","); got != want {
		t.Fatalf("n1's socket: %s", got)
	}
}
