package buildwasm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Flags are the go build flags used for every module.
var Flags = []string{"-trimpath", "-buildvcs=false", "-buildmode=c-shared"}

// Env returns the environment for the build: the caller's, with the target
// set and the variables that would make output depend on the machine
// removed.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS", "GOWASM", "GOEXPERIMENT":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
}

// GoTool returns the go command of the running toolchain when it can be
// found (so tests build with the Go that runs them), else "go" from PATH.
func GoTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// Build compiles the package pkg (an import path or a ./relative path,
// resolved in dir) into the file out.
func Build(dir, pkg, out string) error {
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.Command(GoTool(), args...)
	cmd.Dir = dir
	cmd.Env = Env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("buildwasm: go build %s: %w\n%s", pkg, err, stderr.Bytes())
	}
	return nil
}

// Version returns the Go version the modules are built with, as reported
// by the go command.
func Version(dir string) (string, error) {
	cmd := exec.Command(GoTool(), "env", "GOVERSION")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("buildwasm: go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestCacheDir is where tests keep wazero's compilation cache: under the
// user's cache directory, like Go's build cache, so that a second run does
// not recompile the Go modules (a second or so each, ten times that under
// -race). EDGEWS_WASM_TEST_CACHE overrides it; "off" returns "" (an
// in-memory cache).
func TestCacheDir() string {
	switch d := os.Getenv("EDGEWS_WASM_TEST_CACHE"); d {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "edgews", "wazero-test")
	default:
		return d
	}
}
