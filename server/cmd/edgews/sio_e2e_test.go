package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// e2eDir holds the npm packages the end-to-end tests use; `just test-deps`
// installs them (npm ci).
const e2eDir = "testdata/e2e"

func requireNodeModules(t *testing.T, pkgs ...string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed; the end-to-end tests need Node.js and npm")
	}
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", p)); err != nil {
			t.Fatalf("npm package %s is missing: run `just test-deps` (npm ci --prefix server/cmd/edgews/testdata/e2e)", p)
		}
	}
}

// webhookRecorder is a real HTTP backend for edgews's webhook that lets
// the node scripts read what edgews's listeners saw.
type webhookRecorder struct {
	mu     sync.Mutex
	events []json.RawMessage
}

func (w *webhookRecorder) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hook":
		var body struct{ Events []json.RawMessage }
		data, _ := io.ReadAll(r.Body)
		json.Unmarshal(data, &body)
		w.mu.Lock()
		w.events = append(w.events, body.Events...)
		w.mu.Unlock()
	case "/events":
		w.mu.Lock()
		b, _ := json.Marshal(w.events)
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		rw.Write(b)
	default:
		http.NotFound(rw, r)
	}
}

func devLogin(t *testing.T, listen, user, ctx string) string {
	t.Helper()
	resp, err := http.Post("http://"+listen+"/dev/login", "application/json", strings.NewReader(fmt.Sprintf(`{"user":%q,"context":%q}`, user, ctx)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct{ Session string }
	json.NewDecoder(resp.Body).Decode(&l)
	return l.Session
}

// TestSocketIOClients: socket.io-client@2 (Engine.IO 3) and @4 (Engine.IO
// 4) from npm talk to edgews's zero-config /socket.io/ route: connect over
// WebSocket, receive an admin send as an event, emit to the listeners,
// acks in both directions, a second namespace, and three ping intervals.
func TestSocketIOClients(t *testing.T) {
	t.Parallel()
	requireNodeModules(t, "sio2", "sio4")
	rec := &webhookRecorder{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	const pingMs = 300
	cfg := filepath.Join(t.TempDir(), "edgews.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`dev: true
webhook: {url: %q, batch_interval: 10ms}
transcoders:
  socketio: {builtin: socketio, config: '{"pingInterval":%d,"pingTimeout":%d}'}
`, hook.URL+"/hook", pingMs, pingMs)), 0o600)
	p := startBinary(t, "--config", cfg, "--log-level", "warn")
	for _, v := range []string{"2", "4"} {
		t.Run("socket.io-client@"+v, func(t *testing.T) {
			user := "sio" + v
			sess := devLogin(t, p.listen, user, "1")
			cmd := exec.Command("node", "sio.mjs", v, "http://"+p.listen, sess, "http://"+p.admin, hook.URL+"/events", user, "1", fmt.Sprint(pingMs))
			cmd.Dir = e2eDir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node sio.mjs %s: %v\n%s\nedgews: %s", v, err, out, p.stderr)
			}
			var res struct {
				OK    bool
				Steps []string
			}
			line := strings.TrimSpace(string(out))
			if i := strings.LastIndex(line, "\n"); i >= 0 {
				line = line[i+1:]
			}
			if json.Unmarshal([]byte(line), &res) != nil || !res.OK || len(res.Steps) != 6 {
				t.Fatalf("unexpected result: %s", out)
			}
			for _, s := range res.Steps {
				t.Logf("v%s: %s", v, s)
			}
		})
	}
}
