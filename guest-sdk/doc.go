// Package guest is the Go SDK for edgews transcoders: WebAssembly modules
// that rewrite every message of a socket on its way in (browser to
// listeners) and out (server to browser). It hides ABI 1.1 (see
// wasmhost/ABI.md) behind a few typed calls.
//
// # Writing a transcoder
//
// A transcoder is a main package that registers its handlers from an init
// function and is built with the standard Go toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o upper.wasm ./upper
//
// Example, a transcoder that upper-cases text in both directions and
// counts messages per socket:
//
//	package main
//
//	import (
//		"bytes"
//		"strconv"
//
//		guest "github.com/edgews/edgews/guest-sdk"
//	)
//
//	func init() {
//		guest.Register(guest.Handlers{
//			Open: func(info guest.OpenInfo) error {
//				return guest.SetAttrString("count", "0")
//			},
//			Inbound: func(m guest.Message) error {
//				n, _ := guest.AttrString("count")
//				c, _ := strconv.Atoi(n)
//				if err := guest.SetAttrString("count", strconv.Itoa(c+1)); err != nil {
//					return err
//				}
//				if m.Binary {
//					return guest.Deliver(true, m.Data)
//				}
//				return guest.Deliver(false, bytes.ToUpper(m.Data))
//			},
//			Outbound: func(m guest.Message) error {
//				if m.Binary {
//					return guest.WriteFrame(true, m.Data)
//				}
//				return guest.WriteFrame(false, bytes.ToUpper(m.Data))
//			},
//		})
//	}
//
//	func main() {}
//
// The same package builds natively too: then the host calls go to a fake
// host, and package guesttest drives the handlers as plain Go tests:
//
//	func TestUpper(t *testing.T) {
//		h := guesttest.New(t, "")
//		h.Open(guest.OpenInfo{SocketID: "s1"})
//		h.Inbound(false, []byte("hi"))
//		if got := h.Deliveries(); len(got) != 1 || string(got[0].Data) != "HI" {
//			t.Fatalf("deliveries = %v", got)
//		}
//	}
//
// To test the built .wasm with the real host, use package
// github.com/edgews/edgews/wasmhost/harness.
//
// # Rules
//
//   - Keep no state between calls. The host runs a pool of instances and
//     any of them may serve the next call of a socket, and instances are
//     thrown away after a failure or a module swap. Per-socket state goes
//     into attributes (SetAttr), which live with the socket.
//   - Handlers run one at a time per instance and must return quickly: each
//     call has a wall-clock budget (250 ms by default) after which it is
//     stopped and the socket closed with 1011. Do not sleep or start
//     goroutines; use ArmTimer for anything that must happen later.
//   - Message.Data is only valid during the call.
//   - Messages may arrive in batches (ABI 1.1): when the server has several
//     messages of a socket at once it passes them in one call, and the SDK
//     runs the Inbound (Outbound) handler for each, in order, exactly as
//     for single messages; nothing to do for a transcoder. A handler that
//     fails ends the batch (the socket is closed with 1011 anyway), and so
//     does one that calls Close: the rest of the batch is dropped. Each
//     message keeps the budget and emit cap of a single call.
//     guesttest.Host.InboundBatch and OutboundBatch test this natively.
//   - Each call may emit a bounded number of bytes (4 MiB by default), and
//     each instance has a memory cap (32 MiB by default). A socket's
//     attributes hold at most 1 MiB of what the transcoder stored (keys
//     plus values; SetAttr fails with ErrTooLarge beyond), and timer ids
//     run from 0 to 255.
//   - There is no file system, network, environment or argument list. The
//     clock and random numbers work; os.Stdout and os.Stderr go to the
//     server's log, rate-limited.
//
// # Why this shape
//
// The package is part of the main edgews module rather than a module of
// its own: it has no dependencies beyond the standard library and
// wasmhost/abi (itself dependency-free), so importing it adds no third-
// party packages to a transcoder's build, and one module keeps the SDK, the
// ABI constants and the host in step in every commit and CI run.
package guest
