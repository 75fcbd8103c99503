package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleConfigs: every example in docs/examples passes
// `edgews config check`.
func TestExampleConfigs(t *testing.T) {
	t.Parallel()
	root, _ := filepath.Abs("../../..")
	files, _ := filepath.Glob(filepath.Join(root, "docs/examples/*.yaml"))
	if len(files) < 3 {
		t.Fatalf("found %d example configs", len(files))
	}
	for _, f := range files {
		out, code := run(t, "config", "check", f)
		if code != 0 || !strings.Contains(out, "is valid") {
			t.Errorf("%s: exit %d\n%s", filepath.Base(f), code, out)
		}
	}
	// config check builds what a start would: a bad key is caught, not
	// only a bad key name.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("routes: [{path: /ws}]\nsession: {verifier: jwt, jwt: {keys: [{algorithm: ES256, public_key: not-a-pem}]}}\n"), 0o600)
	if out, code := run(t, "config", "check", bad); code != 1 || !strings.Contains(out, "session.jwt: session: jwt keys[0]: public key") {
		t.Errorf("bad key: exit %d\n%s", code, out)
	}
}
