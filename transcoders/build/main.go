package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgews/edgews/transcoders/buildwasm"
)

// modules are the embedded transcoders: package directory under
// transcoders/ and output file under transcoders/builtin/.
var modules = []string{"identity", "socketio"}

func main() {
	check := flag.Bool("check", false, "compare a fresh build with the committed files instead of writing them")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(check bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	builtin := filepath.Join(root, "transcoders", "builtin")
	outDir := builtin
	if check {
		if outDir, err = os.MkdirTemp("", "edgews-build-"); err != nil {
			return err
		}
		defer os.RemoveAll(outDir)
	}
	version, err := buildwasm.Version(root)
	if err != nil {
		return err
	}
	var info strings.Builder
	fmt.Fprintf(&info, "go %s\nflags %s\n", version, strings.Join(buildwasm.Flags, " "))
	var stale []string
	for _, name := range modules {
		out := filepath.Join(outDir, name+".wasm")
		if err := buildwasm.Build(root, "./transcoders/"+name, out); err != nil {
			return err
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		fmt.Fprintf(&info, "%s %d bytes\n", name, len(b))
		if check {
			committed, err := os.ReadFile(filepath.Join(builtin, name+".wasm"))
			if err != nil || !bytes.Equal(b, committed) {
				stale = append(stale, name)
			}
		}
	}
	if check {
		if len(stale) > 0 {
			return fmt.Errorf("transcoders/builtin is stale for %s: run go run ./transcoders/build", strings.Join(stale, ", "))
		}
		fmt.Println("transcoders/builtin is in step with its sources")
		return nil
	}
	fmt.Print(info.String())
	return os.WriteFile(filepath.Join(builtin, "BUILDINFO"), []byte(info.String()), 0o644)
}

// moduleRoot finds the directory of the edgews go.mod from the working
// directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/edgews/edgews\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("build: run inside the edgews module")
		}
		dir = parent
	}
}
