// Package guesttest runs a transcoder's handlers natively, as plain Go,
// against an in-memory host that records what they do: frames written,
// messages delivered, close requests, attributes, timers and log lines.
// Build the transcoder package for the host (no GOOS=wasip1) and drive it
// from its tests; see the package guest doc for an example.
//
// Timers run on a virtual clock: Advance moves it and fires the timers that
// come due, in order, so heartbeat logic tests in microseconds.
//
// The handlers of a process are global (a module has one set of exports),
// so calls from concurrent tests are serialised; each Host has its own
// socket state.
package guesttest
