package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrowserDemo opens the dev-mode demo page in Debian's chromium
// (driven by playwright-core from npm) as two users and checks that only
// the addressed user sees a message, on both transports, and that closing
// the session through the admin API shows the sockets closed. The
// screenshot is kept in reports/browser/demo.png.
func TestBrowserDemo(t *testing.T) {
	t.Parallel()
	requireNodeModules(t, "playwright-core")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium not found at %s: run `just test-deps` (apt-get install chromium)", chromium)
	}
	p := startBinary(t, "--log-level", "warn")
	root, _ := filepath.Abs("../../..")
	shot := filepath.Join(root, "reports", "browser", "demo.png")
	os.MkdirAll(filepath.Dir(shot), 0o755)
	os.Remove(shot)
	cmd := exec.Command("node", "browser.mjs", "http://"+p.listen, "http://"+p.admin, shot)
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node browser.mjs: %v\n%s\nedgews: %s", err, out, p.stderr)
	}
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	var res struct {
		OK    bool
		Steps []string
	}
	if json.Unmarshal([]byte(line), &res) != nil || !res.OK {
		t.Fatalf("unexpected result: %s", out)
	}
	for _, s := range res.Steps {
		t.Log(s)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot at %s", shot)
	}
}
