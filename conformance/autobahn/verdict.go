package autobahn

import (
	"bytes"
	"slices"
	"time"
)

// Verdicts. A case's behaviour is one of OK, NonStrict, Informational,
// Unimplemented or Failed. Its close behaviour is OK, Informational, Failed,
// WrongCode, Unclean or FailedByClient.
const (
	OK             = "OK"
	NonStrict      = "NON-STRICT"
	Informational  = "INFORMATIONAL"
	Unimplemented  = "UNIMPLEMENTED"
	Failed         = "FAILED"
	WrongCode      = "WRONG CODE"
	Unclean        = "UNCLEAN"
	FailedByClient = "FAILED BY CLIENT"
)

// event is something the client observed: a message, a pong, or a
// "timeout" marker a case records itself when it reaches a checkpoint.
type event struct {
	kind   string // "message", "pong" or "timeout"
	data   []byte
	binary bool
}

func textMsg(p string) event          { return event{kind: "message", data: []byte(p)} }
func binMsg(p []byte) event           { return event{kind: "message", data: p, binary: true} }
func msgEvent(p []byte, b bool) event { return event{kind: "message", data: p, binary: b} }
func pongEvent(p string) event        { return event{kind: "pong", data: []byte(p)} }
func timeoutEvent(tag string) event   { return event{kind: "timeout", data: []byte(tag)} }

func (e event) equal(o event) bool {
	return e.kind == o.kind && e.binary == o.binary && bytes.Equal(e.data, o.data)
}

func eventsEqual(a, b []event) bool {
	return slices.EqualFunc(a, b, event.equal)
}

// outcome is one acceptable sequence of events and the verdict it earns.
type outcome struct {
	behavior string
	events   []event
}

// closeExpectation says how the connection should end.
type closeExpectation struct {
	closedByMe   bool  // the client is expected to start the closing handshake
	codes        []int // acceptable close codes from the server (none is fine too)
	requireClean bool  // a full closing handshake is required
	// wrongEndpointFatal makes the case fail when the wrong side closed:
	// for invalid UTF-8 it means the server did not notice at all.
	wrongEndpointFatal bool
}

// expect records an acceptable outcome. Outcomes are matched in the order
// they were first recorded.
func (r *run) expect(behavior string, events ...event) {
	for i := range r.expected {
		if r.expected[i].behavior == behavior {
			r.expected[i].events = events
			return
		}
	}
	r.expected = append(r.expected, outcome{behavior: behavior, events: events})
}

func (r *run) expectClose(c closeExpectation) { r.expectedClose = c }

// closeNormally is the most common expectation: the client closes with
// 1000 after it has seen everything, and the close is clean.
func (r *run) closeNormally() {
	r.expectClose(closeExpectation{closedByMe: true, codes: []int{closeNormal}, requireClean: true})
}

// serverFails expects the server to fail the connection with the given code.
func (r *run) serverFails(code int) {
	r.expectClose(closeExpectation{codes: []int{code}})
}

func (r *run) defaultOnMessage(payload []byte, binary bool) {
	r.received = append(r.received, msgEvent(payload, binary))
	r.finishWhenDone()
}

func (r *run) casePong(payload []byte) {
	r.received = append(r.received, event{kind: "pong", data: payload})
	r.finishWhenDone()
}

// finishWhenDone starts the closing handshake once the events seen so far
// equal every expected outcome (so, in practice, when there is exactly one
// outcome and it has been seen in full). Cases with two outcomes never close
// this way; their timers do.
func (r *run) finishWhenDone() {
	for _, o := range r.expected {
		if !eventsEqual(r.received, o.events) {
			return
		}
	}
	if r.expectedClose.closedByMe && !r.suppressClose && len(r.expectedClose.codes) > 0 {
		r.closeWith(r.expectedClose.codes[0])
	}
}

// caseOpen runs when the opening handshake completed.
func (r *run) caseOpen() {
	r.connectionWasOpen = true
	r.caseStart = time.Now()
	r.spec.open(r)
}

// caseConnectionLost computes the verdicts once the connection is gone.
func (r *run) caseConnectionLost() {
	for _, o := range r.expected {
		if eventsEqual(r.received, o.events) {
			r.behavior = o.behavior
			r.result = "The observed events match an expected outcome."
			break
		}
	}
	if r.connectionWasOpen {
		ec := r.expectedClose
		switch {
		case ec.closedByMe != r.closedByMe:
			r.behaviorClose = Failed
			r.resultClose = "The wrong endpoint started the closing handshake."
		case ec.requireClean && !r.wasClean:
			r.behaviorClose = Unclean
			r.resultClose = "A clean closing handshake was required here."
		case r.remoteCloseCode != nil && !slices.Contains(ec.codes, *r.remoteCloseCode):
			r.behaviorClose = WrongCode
			r.resultClose = "The server's close code should have been one of " + joinInts(ec.codes) + " or none."
		case r.droppedByMe:
			r.behaviorClose = FailedByClient
			r.resultClose = "The client had to drop the TCP connection; the server should close it."
		default:
			r.behaviorClose = OK
			r.resultClose = "The connection was closed properly."
		}
		if ec.wrongEndpointFatal && ec.closedByMe != r.closedByMe {
			r.behavior = Failed
		}
	} else {
		r.behaviorClose = Failed
		r.resultClose = "The opening handshake did not complete."
	}
	if r.spec.lost != nil {
		r.spec.lost(r)
	}
}

// failOnWrongCode is the common post-check of the close cases: a wrong
// close code fails the case itself, not just its close behaviour.
func failOnWrongCode(r *run) {
	if r.behaviorClose == WrongCode {
		r.behavior = Failed
		r.result = r.resultClose
	}
}
