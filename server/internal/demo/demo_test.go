package demo

import (
	"bytes"
	"io/fs"
	"os"
	"testing"
)

// TestVendoredClientMatchesNPM: the embedded socket.io client is the npm
// package's browser build, byte for byte (`just demo-vendor` refreshes it).
func TestVendoredClientMatchesNPM(t *testing.T) {
	npm, err := os.ReadFile("../../cmd/edgews/testdata/e2e/node_modules/sio4/dist/socket.io.min.js")
	if err != nil {
		t.Fatalf("the npm package is not installed (run `just test-deps`): %v", err)
	}
	ours, err := fs.ReadFile(Files(), "socket.io.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(npm, ours) {
		t.Fatal("server/internal/demo/socket.io.min.js differs from the locked npm package: run `just demo-vendor`")
	}
	if page, _ := fs.ReadFile(Files(), "index.html"); !bytes.Contains(page, []byte(`src="/demo/socket.io.min.js"`)) {
		t.Fatal("index.html does not load the vendored client")
	}
}
