# edgews tasks. `just --list` shows this menu; `npx -y rust-just <recipe>` runs one
# without installing just.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Show the recipes
default:
    @just --list --unsorted

# Run the server on its embedded defaults (dev mode, :8080, admin on 127.0.0.1:8081)
run *ARGS:
    go run ./server/cmd/edgews {{ARGS}}

# Run the dev server and open the demo page at http://localhost:8080/
demo:
    @echo "demo page: http://localhost:8080/  (admin API: http://127.0.0.1:8081/api/v1/stats)"
    go run ./server/cmd/edgews --dev

# Refresh the demo page's vendored socket.io client from the locked npm package
demo-vendor:
    npm ci --prefix server/cmd/edgews/testdata/e2e --no-audit --no-fund
    cp server/cmd/edgews/testdata/e2e/node_modules/sio4/dist/socket.io.min.js server/internal/demo/

# Build the edgews binary into bin/
build:
    mkdir -p bin && go build -trimpath -o bin/edgews ./server/cmd/edgews

# Install what the tests need, then run every test CI runs
test: test-deps lint
    go test -race -count=1 -timeout 20m ./...
    go test -count=1 -run '^TestLeakConnectDisconnect$' ./server
    just conformance

# Install test-time tools: Go modules, npm clients (socket.io-client 2 and 4, playwright-core), Debian's chromium and iproute2
test-deps:
    #!/usr/bin/env bash
    set -euo pipefail
    go version
    go mod download
    npm ci --prefix server/cmd/edgews/testdata/e2e --no-audit --no-fund
    missing=()
    command -v ip >/dev/null || missing+=(iproute2)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then sudo=sudo; else sudo=; fi
        echo "installing from Debian: ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi

# Rebuild the embedded transcoder modules from their sources
wasm:
    go run ./transcoders/build

# Formatting, vet (host and wasip1), and go.mod tidiness
lint:
    #!/usr/bin/env bash
    set -euo pipefail
    unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^testdata/') 2>/dev/null || true)
    if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
    go vet ./...
    GOOS=wasip1 GOARCH=wasm go vet ./guest-sdk/... ./transcoders/... ./wasmhost/abi
    if ! go mod tidy -diff; then echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi

# Conformance gate: Autobahn cases 1-7, 10, 12, 13 against edgews's echo routes in every set-up; fails on any FAILED
conformance:
    EDGEWS_CONFORMANCE=1 go test -count=1 -timeout 30m -run '^TestConformanceGate$' -v ./server/cmd/edgews

# Every conformance case including section 9 (limits and performance); reports in reports/conformance/
conformance-full:
    EDGEWS_CONFORMANCE=1 EDGEWS_CONFORMANCE_CASES='*' go test -count=1 -timeout 60m -run '^TestConformanceGate$' -v ./server/cmd/edgews

# The official Autobahn|Testsuite (needs Docker): runs edgews on :9001 and the crossbario image against it
autobahn:
    #!/usr/bin/env bash
    set -euo pipefail
    go build -o bin/edgews ./server/cmd/edgews
    bin/edgews --config conformance/edgews.yaml --listen 0.0.0.0:9001 --admin-listen 127.0.0.1:9002 --log-level warn &
    pid=$!; trap 'kill $pid' EXIT
    sleep 1
    session=$(curl -s -X POST 127.0.0.1:9001/dev/login -d '{"user":"autobahn","context":"conformance"}' | sed -E 's/.*"session":"([^"]+)".*/\1/')
    mkdir -p reports/autobahn
    sed "s#/echo\"#/echo?session=${session}\"#" conformance/autobahn/fuzzingclient.json > reports/autobahn/fuzzingclient.json
    docker run --rm --add-host=host.docker.internal:host-gateway \
        -v "$PWD/reports/autobahn:/config" -v "$PWD/reports/autobahn:/reports" \
        crossbario/autobahn-testsuite wstest --mode fuzzingclient --spec /config/fuzzingclient.json
    echo "report: reports/autobahn/servers/index.html"

# The benchmark suite: every mode of edgews bench, edgews beside the reference fasthttp/websocket server (3-4 min)
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    go build -o bin/edgews ./server/cmd/edgews
    mkdir -p reports/bench
    for args in "idle --count 19000 --route /echo,/socket.io" "echo" "echo --conns 100,1000 --route /echo,/echo-identity,/socket.io --duration 3s" "fanout" "handshake" "cluster"; do
        echo "== edgews bench $args"
        bin/edgews bench $args | tee "reports/bench/$(echo "$args" | tr ' /,' '___').txt"
    done

# Start a local 3-node dev cluster (browsers :8080/:8180/:8280, admin one port above each); Ctrl-C stops it
cluster:
    #!/usr/bin/env bash
    set -euo pipefail
    go build -o bin/edgews ./server/cmd/edgews
    key=$(head -c 32 /dev/urandom | base64)
    pids=()
    trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
    for i in 0 1 2; do
        port=$((8080 + 100 * i))
        join=(); [ "$i" -gt 0 ] && join=(--cluster-join 127.0.0.1:7946)
        bin/edgews --dev --node-name "node$((i + 1))" --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$((port + 1))" \
            --cluster-bind "127.0.0.1:$((7946 + i))" --cluster-key "$key" "${join[@]}" --log-level warn &
        pids+=($!)
    done
    sleep 2
    bin/edgews members --admin-url http://127.0.0.1:8081
    echo "3 nodes up. Ctrl-C stops them."
    wait

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
