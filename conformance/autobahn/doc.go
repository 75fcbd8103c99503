// Package autobahn plays the cases of the Autobahn|Testsuite fuzzing client
// against a WebSocket server and gives the verdicts the official suite
// gives: the same case ids (1.1.1 to 13.7.18), the same frames, chops and
// pauses, the same expected events, and the same behaviour (OK,
// NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED) and close-behaviour
// verdicts. Run executes a selection of cases; CaseIDs resolves case
// patterns; the reports (index.json, index.html, one JSON and one HTML file
// per case) follow the official layout.
//
// # How it is built
//
// The official verdicts depend not only on the cases but on the behaviour
// of the client underneath them: autobahn-python 0.10.9 on Twisted, with
// failByDrop=false. A protocol violation by the server makes that client
// send a close frame and keep parsing; a second violation while closing
// drops the TCP connection; the client waits 1 s for a close reply and 1 s
// for the server to drop the connection after the closing handshake; pings
// are answered, pongs recorded; a case ends when the TCP connection ends.
// The package reproduces that state machine (session.go, receive.go,
// send.go, handshake.go) and the case base class (verdict.go) closely,
// since "which side closed", "was it clean" and "which code" decide the
// close verdicts, and, in section 6, whether a case fails.
//
// Each case runs on its own connection with one goroutine as its event
// loop, the counterpart of the Twisted reactor: received data and timers
// (the cases' kill, close and continue-later timers, and the protocol
// timeouts) are processed there one at a time, so case code needs no
// locks. Writes go through a queue drained by a writer goroutine, so the
// loop never blocks on a server that does not read; writes the cases ask to
// be chopped or synchronised are written one by one with a short pause, so
// the server sees them as separate TCP segments. Independent cases may run
// in parallel (Options.Parallel); they never share state.
//
// The compression cases (12.x, 13.x) cut their messages from five payload
// files. The official files are not redistributed; deterministic stand-ins
// of the same kind and size are generated instead, and Options.TestData can
// point at the official files. The verdicts depend on the echoes matching,
// not on the exact octets.
//
// The case descriptions are written for this package; the case behaviour
// follows the official definitions, which are the reference for any
// question of fidelity.
package autobahn
