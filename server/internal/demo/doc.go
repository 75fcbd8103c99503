// Package demo is the page edgews serves at / in dev mode: log in as a
// user, open a plain WebSocket and a Socket.IO connection, watch what
// arrives, and send to any user. It shows a person what edgews does in a
// minute; it is never served outside dev mode.
//
// socket.io.min.js is the socket.io-client 4.8.1 browser build (MIT
// licensed, header kept), vendored from the npm package locked in
// server/cmd/edgews/testdata/e2e so the page works offline and `go run`
// needs no npm step. `just demo-vendor` refreshes it; a test checks it is
// the npm package's file byte for byte.
package demo

import (
	"embed"
	"io/fs"
)

//go:embed index.html socket.io.min.js
var files embed.FS

// Files returns the page's files: index.html and socket.io.min.js.
func Files() fs.FS { return files }
