// Package harness loads a transcoder .wasm with the real host (package
// wasmhost) and drives it like the server would — open a socket, pass
// messages in and out, fire timers, close — recording every frame,
// delivery, close request, attribute and timer. Transcoder authors use it
// to test the built module without a server or a browser; the edgews tests
// use it for every module they ship.
//
//	h, err := harness.LoadFile(ctx, "upper.wasm", harness.Options{})
//	...
//	defer h.Close()
//	s := h.NewSocket(wasmhost.SocketInfo{ID: "s1", Path: "/ws"})
//	if err := s.Open(); err != nil { ... }
//	if err := s.Inbound(false, []byte("hi")); err != nil { ... }
//	fmt.Println(s.Deliveries()) // [text "HI"]
//
// InboundBatch and OutboundBatch pass several messages in one call, as the
// server does with the messages of one read (ABI 1.1 batch exports, or one
// call per message for a 1.0 module).
//
// Timers run on a virtual clock per socket: Advance fires the timers that
// come due, in order, so heartbeats test in microseconds.
//
// Compare measures two modules side by side (per-message cost, and the
// ratio of one to the other in rounds that take turns, which stays steady
// on a noisy machine); "edgews transcoder compare" prints it.
package harness
