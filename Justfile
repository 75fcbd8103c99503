# edgews tasks. `just --list` shows this menu; `npx -y rust-just <recipe>` runs one
# without installing just.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Show the recipes
default:
    @just --list --unsorted

# Run the server on its embedded defaults (dev mode, :8080, admin on 127.0.0.1:8081)
run *ARGS:
    go run ./server/cmd/edgews {{ARGS}}

# Build the edgews binary into bin/
build:
    mkdir -p bin && go build -trimpath -o bin/edgews ./server/cmd/edgews

# Install what the tests need, then run every test CI runs
test: test-deps lint
    go test -race -count=1 -timeout 20m ./...

# Install test-time tools (nothing beyond Go yet)
test-deps:
    go version
    go mod download

# Formatting, vet (host and wasip1), and go.mod tidiness
lint:
    #!/usr/bin/env bash
    set -euo pipefail
    unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^testdata/') 2>/dev/null || true)
    if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
    go vet ./...
    if ! go mod tidy -diff; then echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi

# Run every fuzz target for SECONDS each (default 30)
fuzz SECONDS="30":
    #!/usr/bin/env bash
    set -euo pipefail
    for pkg in $(go list ./...); do
        for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
            echo "== $pkg $target"
            go test -run '^$' -fuzz "^${target}\$" -fuzztime {{SECONDS}}s "$pkg"
        done
    done
