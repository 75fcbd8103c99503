package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// run runs the edgews binary and returns its combined output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binary, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestCLISubcommands runs every client subcommand against a running node.
func TestCLISubcommands(t *testing.T) {
	t.Parallel()
	p := startBinary(t, "--admin-token", "cli-token", "--log-level", "warn")
	admin := []string{"--admin-url", "http://" + p.admin, "--admin-token", "cli-token"}
	sess := devLogin(t, p.listen, "carol", "4")
	c, _, err := websocket.DefaultDialer.Dial("ws://"+p.listen+"/ws?session="+sess, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	out, code := run(t, append([]string{"exists", "--context", "4", "--user", "carol"}, admin...)...)
	if code != 0 || !strings.Contains(out, "yes: 1 socket") {
		t.Fatalf("exists: %d %s", code, out)
	}
	out, code = run(t, append([]string{"exists", "--context", "4", "--user", "nobody"}, admin...)...)
	if code != 3 || strings.TrimSpace(out) != "no" {
		t.Fatalf("exists (no): %d %s", code, out)
	}
	out, code = run(t, append([]string{"send", "--context", "4", "--user", "carol", "hello from the CLI"}, admin...)...)
	if code != 0 || !strings.Contains(out, "queued for 1 local socket") {
		t.Fatalf("send: %d %s", code, out)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "hello from the CLI" {
		t.Fatalf("socket got %q %v", m, err)
	}
	out, code = run(t, append([]string{"send", "--context", "4", "--user", "carol", "--path", "bad*", "x"}, admin...)...)
	if code != 1 || !strings.Contains(out, "must start with") {
		t.Fatalf("send with a bad filter: %d %s", code, out)
	}
	out, code = run(t, append([]string{"members"}, admin...)...)
	if code != 0 || !strings.Contains(out, "(self)") || !strings.Contains(out, "alive") {
		t.Fatalf("members: %d %s", code, out)
	}
	out, code = run(t, append([]string{"stats"}, admin...)...)
	if code != 0 || !strings.Contains(out, `"sockets": 1`) {
		t.Fatalf("stats: %d %s", code, out)
	}
	out, code = run(t, "stats", "--admin-url", "http://"+p.admin, "--admin-token", "wrong")
	if code != 1 || !strings.Contains(out, "missing or wrong bearer token (HTTP 401)") {
		t.Fatalf("stats with a wrong token: %d %s", code, out)
	}
	out, code = run(t, "stats", "--admin-url", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(out, "cannot reach the admin API") {
		t.Fatalf("stats against nothing: %d %s", code, out)
	}
	out, code = run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "edgews ") {
		t.Fatalf("version: %d %s", code, out)
	}
	for _, sub := range [][]string{{"--help"}, {"send", "--help"}, {"exists", "--help"}, {"members", "--help"}, {"stats", "--help"}, {"config", "check", "--help"}, {"transcoder", "validate", "--help"}, {"transcoder", "compare", "--help"}, {"serve", "--help"}} {
		if out, code := run(t, sub...); code != 0 || !strings.Contains(out, "Usage:") {
			t.Fatalf("%v: %d %s", sub, code, out)
		}
	}
}

func TestTranscoderValidate(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../../..")
	out, code := run(t, "transcoder", "validate", filepath.Join(root, "transcoders/builtin/identity.wasm"))
	if code != 0 || !strings.Contains(out, "edgews_abi_version") || !strings.Contains(out, "loaded: ABI version accepted") ||
		!strings.Contains(out, `-> listener text "hello"`) || !strings.HasSuffix(strings.TrimSpace(out), "valid") {
		t.Fatalf("identity: %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(bad, []byte("\x00asm\x01\x00\x00\x00"), 0o600) // a valid, empty module: no ABI
	out, code = run(t, "transcoder", "validate", bad)
	if code != 1 || !strings.Contains(out, "refused") {
		t.Fatalf("empty module: %d\n%s", code, out)
	}
	os.WriteFile(bad, []byte("not wasm"), 0o600)
	out, code = run(t, "transcoder", "validate", bad)
	if code != 1 || !strings.Contains(out, "not a valid WebAssembly module") {
		t.Fatalf("garbage: %d\n%s", code, out)
	}
}

// TestTranscoderCompare runs a short comparison of the two embedded
// modules (the figures' direction is TestCompare's, in the harness) and
// one with a module that is refused.
func TestTranscoderCompare(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../../..")
	id, sio := filepath.Join(root, "transcoders/builtin/identity.wasm"), filepath.Join(root, "transcoders/builtin/socketio.wasm")
	out, code := run(t, "transcoder", "compare", "--rounds", "4", "--calls", "3", id, sio)
	if code != 0 || !strings.Contains(out, "4 rounds of 3 calls") || !strings.Contains(out, "\ninbound ") || !strings.Contains(out, "\noutbound ") {
		t.Fatalf("compare: %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(bad, []byte("\x00asm\x01\x00\x00\x00"), 0o600)
	out, code = run(t, "transcoder", "compare", "--rounds", "2", id, bad)
	if code != 1 || !strings.Contains(out, "module B") {
		t.Fatalf("refused module: %d\n%s", code, out)
	}
}
