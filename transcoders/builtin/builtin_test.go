//go:build !wasip1

package builtin

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgews/edgews/transcoders/buildwasm"
	"github.com/edgews/edgews/wasmhost"
)

// recordedGo returns the Go version in BUILDINFO.
func recordedGo(t *testing.T) string {
	t.Helper()
	f, err := os.Open("BUILDINFO")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go "); ok {
			return v
		}
	}
	t.Fatal("BUILDINFO has no go line")
	return ""
}

// TestInStep rebuilds every embedded module and compares bytes. Go's wasm
// output is reproducible for the same sources, flags and Go version (the
// build uses -trimpath and no VCS stamp), so a difference means a source
// changed without `go run ./transcoders/build`. With another Go version
// the bytes legitimately differ; the test then skips and says so.
func TestInStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go modules; skipped with -short")
	}
	version, err := buildwasm.Version(".")
	if err != nil {
		t.Fatal(err)
	}
	if want := recordedGo(t); version != want {
		t.Skipf("modules were built with %s, this is %s: rebuild with go run ./transcoders/build to compare", want, version)
	}
	dir := t.TempDir()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".wasm")
			if err := buildwasm.Build(".", "github.com/edgews/edgews/transcoders/"+name, out); err != nil {
				t.Fatal(err)
			}
			fresh, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			embedded, _ := Get(name)
			if !bytes.Equal(fresh, embedded) {
				t.Fatalf("transcoders/builtin/%s.wasm is stale (%d bytes committed, %d built): run go run ./transcoders/build", name, len(embedded), len(fresh))
			}
		})
	}
}

// TestLoads checks that every embedded module loads in the host and stays
// under the size budget of 8 MiB.
func TestLoads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, err := wasmhost.NewRuntime(ctx, wasmhost.RuntimeConfig{CacheDir: buildwasm.TestCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for _, name := range Names() {
		b, ok := Get(name)
		if !ok || len(b) == 0 || len(b) > 8<<20 {
			t.Fatalf("%s: %d bytes", name, len(b))
		}
		if testing.Short() {
			continue
		}
		mod, err := rt.Load(ctx, name, b, wasmhost.ModuleConfig{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_ = mod.Close(ctx)
	}
}
