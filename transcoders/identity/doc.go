// Command identity is the edgews transcoder that passes every message
// through unchanged: inbound messages are delivered to the listeners,
// outbound messages are written to the browser, text stays text and binary
// stays binary. It is the baseline for measuring transcoder overhead.
//
// Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o identity.wasm ./transcoders/identity
package main
