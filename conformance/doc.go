// Package conformance holds edgews's WebSocket conformance tooling. It is a
// black box: nothing here imports edgews; everything dials a URL.
//
//   - autobahn: a Go re-implementation of the Autobahn|Testsuite fuzzing
//     client (sections 1-7, 9, 10, 12 and 13), with the official case ids,
//     frames, expectations and verdicts, and reports in the official shape.
//   - cmd/wsconform: the command-line runner built on it.
//   - autobahn/fuzzingclient.json: the configuration for running the
//     official suite from its Docker image.
//
// See README.md for how to run it and how it maps to the official suite.
package conformance
