package server

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
)

// TestWASMCacheDiskFull: with wasm.cache_dir on a full disk (a 64 KiB
// tmpfs), the server must still load its transcoders, compiling them in
// memory, and serve their routes.
func TestWASMCacheDiskFull(t *testing.T) {
	// Regression (found by the hardening tests, since fixed):
	// a full compilation-cache disk stops the server from starting. wazero's CompileModule returns the
	// cache write error (ENOSPC) after compiling, wasmhost.Runtime.Load reports it as
	// ErrInvalidModule, and server.New fails: "transcoders.id (builtin:identity): wasmhost: invalid
	// module "id": write .../wazero-dev-amd64-linux/<key>.tmp: no space left on device". Hot swaps and
	// reloads load through the same Runtime.Load. openCache's probe (an empty file) passes on a full
	// disk, so the fallback to memory never triggers. Expected: load (or retry the compile) without
	// the file cache and log a warning.
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	// Fill it: not a byte left for a compiled module (files can still be
	// created, so a check that only creates a file passes).
	fill, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4<<10)
	for range 64 {
		if _, err := fill.Write(chunk); err != nil {
			break
		}
	}
	fill.Close()
	// A tiny hand-made module compiles fast even under -race; the path is
	// the same for any module.
	module := filepath.Join(t.TempDir(), "echo.wasm")
	if err := os.WriteFile(module, echoModule(1), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DevConfig()
	cfg.Routes = append(cfg.Routes[:2], RouteConfig{Path: "/id", Transcoder: "id"})
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Transcoders = map[string]TranscoderConfig{"id": {File: module}}
	cfg.WASM.CacheDir = dir
	var logs lockedBuffer
	s, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatalf("the server did not start with its compilation cache on a full disk: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	ts := &testServer{Server: s, t: t, ws: "ws://" + s.Addr().String(), admin: "http://" + s.AdminAddr().String()}
	// The full disk was really hit (so this is not a cache that fit).
	if l := logs.String(); !strings.Contains(l, "compilation cache") || !strings.Contains(l, "no space left on device") {
		t.Fatalf("no cache failure logged:\n%s", l)
	}
	c := ts.mustDial("/id", ts.login("cache", "1"))
	c.WriteMessage(websocket.TextMessage, []byte("compiled in memory"))
	if got := readText(t, c); got != "compiled in memory" {
		t.Fatalf("echo through the transcoder: %q", got)
	}
	// A swap compiles again, with the disk still full.
	other := echoModule(2) // other bytes, the same behaviour
	var out map[string]any
	if code := ts.api("PUT", "/api/v1/transcoders/id", string(other), &out); code != 200 {
		t.Fatalf("hot swap with the cache disk full: %d %v", code, out)
	}
	c.WriteMessage(websocket.TextMessage, []byte("after the swap"))
	if got := readText(t, c); got != "after the swap" {
		t.Fatalf("echo after the swap: %q", got)
	}
}
