package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

var binary string

// TestMain builds the real edgews binary once for the process tests.
func TestMain(m *testing.M) {
	if url := os.Getenv("EDGEWS_TEST_WSCLIENT"); url != "" {
		os.Exit(wsClientMain(url))
	}
	dir, err := os.MkdirTemp("", "edgews-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "edgews")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building edgews: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	listen string
	admin  string
}

func startBinary(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{stderr: &syncBuffer{}, listen: freePort(t), admin: freePort(t)}
	args = append([]string{"--listen", p.listen, "--admin-listen", p.admin}, args...)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("edgews did not become ready: %s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestZeroConfigAndSIGTERMDrain: the zero-config binary serves a dev login
// and a socket; SIGTERM sends 1001 to the socket and exits 0.
func TestZeroConfigAndSIGTERMDrain(t *testing.T) {
	p := startBinary(t)
	resp, err := http.Post("http://"+p.listen+"/dev/login", "application/json", strings.NewReader(`{"user":"alice","context":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Session string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+p.listen+"/echo?session="+login.Session, http.Header{"Origin": {"http://" + p.listen}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "hi" {
		t.Fatalf("echo %q %v", m, err)
	}
	if !strings.Contains(p.stderr.String(), "DEV MODE") {
		t.Fatalf("dev mode not announced:\n%s", p.stderr)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = c.ReadMessage()
	ce, ok := err.(*websocket.CloseError)
	if !ok || ce.Code != 1001 {
		t.Fatalf("after SIGTERM: %v, want close 1001", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("edgews did not exit after SIGTERM")
	}
	if !strings.Contains(p.stderr.String(), "draining") {
		t.Fatalf("no drain log:\n%s", p.stderr)
	}
}

// TestInvalidConfigNamesTheKey: a bad file fails at start, exit 1, with
// the key in the message.
func TestInvalidConfigNamesTheKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct{ yaml, want string }{
		{"routes: [{path: /ws, max_mesage_size: 1}]\nsession: {verifier: http, http: {url: 'http://x/'}}\n", `unknown key "routes[0].max_mesage_size"`},
		{"routes: [{path: /ws}]\nsession: {verifier: http, http: {url: 'http://x/'}}\nlimits: {pong_timeout: never}\n", "limits.pong_timeout"},
		{"routes: [{path: /ws}]\nsession: {verifier: jwt}\n", "session.jwt: set keys or jwks_file"},
	} {
		f := filepath.Join(dir, "bad.yaml")
		os.WriteFile(f, []byte(tt.yaml), 0o600)
		out, err := exec.Command(binary, "--config", f, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), tt.want) {
			t.Fatalf("output lacks %q:\n%s", tt.want, out)
		}
	}
	// Environment values are checked too.
	cmd := exec.Command(binary, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "EDGEWS_DEV=maybe")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "EDGEWS_DEV") {
		t.Fatalf("bad env value not named:\n%s", out)
	}
}

func TestConfigCheckAndHelp(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "ok.yaml")
	os.WriteFile(f, []byte("routes: [{path: /ws}]\nsession: {verifier: http, http: {url: 'http://127.0.0.1:9/s'}}\n"), 0o600)
	out, err := exec.Command(binary, "config", "check", f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is valid") || !strings.Contains(string(out), "max_message_size: 1MiB") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = exec.Command(binary, "--help").CombinedOutput()
	for _, flag := range []string{"--config", "--listen", "--admin-listen", "--dev", "--admin-token", "--log-level", "--log-format", "--node-name"} {
		if err != nil || !strings.Contains(string(out), flag) {
			t.Fatalf("--help lacks %s: %v\n%s", flag, err, out)
		}
	}
}

// TestSIGHUPReload: a changed file is applied; a broken one is refused and
// the old configuration keeps serving.
func TestSIGHUPReload(t *testing.T) {
	t.Parallel()
	f := filepath.Join(t.TempDir(), "edgews.yaml")
	write := func(s string) { os.WriteFile(f, []byte(s), 0o600) }
	write("dev: true\nroutes: [{path: /one}]\n")
	p := startBinary(t, "--config", f)
	dial := func(path string) error {
		resp, _ := http.Post("http://"+p.listen+"/dev/login", "application/json", strings.NewReader(`{"user":"a","context":"1"}`))
		var l struct{ Session string }
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		c, _, err := websocket.DefaultDialer.Dial("ws://"+p.listen+path+"?session="+l.Session, nil)
		if err == nil {
			c.Close()
		}
		return err
	}
	if dial("/one") != nil || dial("/two") == nil {
		t.Fatal("initial routes wrong")
	}
	write("dev: true\nroutes: [{path: /one}, {path: /two}]\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for dial("/two") != nil {
		if time.Now().After(deadline) {
			t.Fatalf("reload not applied:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	write("dev: true\nroutes: [{path: three}]\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "reload failed") {
		if time.Now().After(deadline) {
			t.Fatalf("broken reload not reported:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "routes[0].path") || dial("/two") != nil {
		t.Fatalf("old config not kept or error not named:\n%s", p.stderr)
	}
}
