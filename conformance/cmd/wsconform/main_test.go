package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// echoServer is a fasthttp/websocket echo server that does not check UTF-8.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := websocket.FastHTTPUpgrader{CheckOrigin: func(*fasthttp.RequestCtx) bool { return true }}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_ = up.Upgrade(ctx, func(c *websocket.Conn) {
			defer c.Close()
			for {
				mt, p, err := c.ReadMessage()
				if err != nil || c.WriteMessage(mt, p) != nil {
					return
				}
			}
		})
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return "ws://" + ln.Addr().String() + "/echo"
}

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	url := echoServer(t)
	dir := t.TempDir()
	code, out, errOut := runCLI("--url", url, "--cases", "1.1.*,2.1", "--exclude", "1.1.8", "--parallel", "4", "--outdir", dir, "--agent", "Echo/1", "--header", "Origin: http://example.com")
	if code != exitOK {
		t.Fatalf("exit %d, stdout %q stderr %q", code, out, errOut)
	}
	if !strings.Contains(out, "wsconform: Echo/1: 8 cases in") || !strings.Contains(out, "OK=8 ") || strings.Count(out, "\n") != 1 {
		t.Errorf("summary line: %q", out)
	}
	var index map[string]map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &index); err != nil || len(index["Echo/1"]) != 8 {
		t.Errorf("index.json: %v %v", err, index)
	}

	code, out, _ = runCLI("--url", url, "--cases", "6.3.1,1.1.1", "-v")
	if code != exitFailed || !strings.Contains(out, "FAILED=1 failed: 6.3.1") || !strings.Contains(out, "1.1.1    OK") {
		t.Errorf("with a failure: exit %d, %q", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"--url", "http://example.com/"},
		{"--url", "ws://127.0.0.1:1/", "--cases", "8.1"},
		{"--url", "ws://127.0.0.1:1/", "--header", "no colon"},
		{"--url", "ws://127.0.0.1:1/", "--bogus"},
		{"--url", "ws://127.0.0.1:1/", "extra"},
	} {
		if code, _, _ := runCLI(args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("--list", "--cases", "7.13.*")
	if code != exitOK || !strings.HasPrefix(out, "7.13.1\t") || strings.Count(out, "\n") != 2 {
		t.Errorf("--list: exit %d, %q", code, out)
	}
}
