package sio

import (
	"strconv"
	"strings"
)

// The listener-facing JSON, in both directions:
//
//	event: {"namespace":"/","event":"name","args":[...]}      plus "ack":N to ask for an ack
//	ack:   {"namespace":"/","ack":N,"args":[...]}              (no "event" key)
//
// Inbound, an EVENT packet becomes the event shape (with "ack" when the
// client asked for one) and an ACK packet (the client answering a server
// event) the ack shape. Outbound, the event shape becomes an EVENT packet
// and the ack shape an ACK packet answering the client's event N.

// AppendListenerEvent appends the event JSON for an inbound EVENT packet
// (as parsed by ParsePacket: Elems holds the payload's elements).
func AppendListenerEvent(dst []byte, p *Packet) ([]byte, error) {
	elems := p.Elems
	if p.Type != Event || len(elems) == 0 || !IsString(elems[0]) {
		return dst, ErrPayload
	}
	dst = append(dst, `{"namespace":`...)
	dst = AppendQuote(dst, p.Namespace)
	dst = append(dst, `,"event":`...)
	dst = append(dst, elems[0]...)
	dst = append(dst, `,"args":[`...)
	dst = appendJoined(dst, elems[1:])
	dst = append(dst, ']')
	if p.ID >= 0 {
		dst = append(dst, `,"ack":`...)
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, '}'), nil
}

// AppendListenerAck appends the ack JSON for an inbound ACK packet (as
// parsed by ParsePacket).
func AppendListenerAck(dst []byte, p *Packet) ([]byte, error) {
	elems := p.Elems
	if p.Type != Ack || p.ID < 0 {
		return dst, ErrPayload
	}
	dst = append(dst, `{"namespace":`...)
	dst = AppendQuote(dst, p.Namespace)
	dst = append(dst, `,"ack":`...)
	dst = strconv.AppendInt(dst, p.ID, 10)
	dst = append(dst, `,"args":[`...)
	dst = appendJoined(dst, elems)
	return append(dst, "]}"...), nil
}

func appendJoined(dst []byte, elems [][]byte) []byte {
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	return dst
}

// Envelope is an outbound message in the listener-facing JSON shape.
type Envelope struct {
	Namespace string
	Event     []byte   // raw JSON string token of the event name; nil for an ack
	Args      [][]byte // raw JSON arguments
	ID        int64    // ack id, or NoID
}

// IsAck reports whether e answers a client's event (ack shape).
func (e Envelope) IsAck() bool { return e.Event == nil }

// ParseEnvelope reads b as the event or ack shape. It reports false for
// anything else: text that is not a JSON object, an object with neither a
// string "event" nor an integer "ack", or one whose known keys have the
// wrong types. Unknown keys are ignored.
func ParseEnvelope(b []byte) (Envelope, bool) {
	var e Envelope
	ok := ParseEnvelopeInto(&e, b)
	return e, ok
}

// ParseEnvelopeInto is ParseEnvelope into *e, reusing e.Args.
func ParseEnvelopeInto(e *Envelope, b []byte) bool {
	*e = Envelope{Namespace: "/", ID: NoID, Args: e.Args[:0]}
	t := trim(b)
	if !IsObject(t) {
		return false
	}
	ok := true
	var haveAck bool
	err := Members(t, func(key, val []byte) {
		switch string(key) {
		case "namespace":
			if string(val) == `"/"` {
				return
			}
			ns, err := Unquote(val)
			if err != nil || ns == "" || ns[0] != '/' || strings.ContainsAny(ns, ",") {
				ok = false
				return
			}
			e.Namespace = ns
		case "event":
			if !IsString(val) {
				ok = false
				return
			}
			e.Event = val
		case "args":
			args, err := AppendElems(e.Args[:0], val)
			if err != nil {
				ok = false
				return
			}
			e.Args = args
		case "ack":
			id, good := ParseUint(val)
			if !good {
				ok = false
				return
			}
			e.ID, haveAck = id, true
		}
	})
	if err != nil || !ok || (e.Event == nil && !haveAck) {
		*e = Envelope{Args: e.Args[:0]}
		return false
	}
	return true
}

// AppendEnvelope encodes e as a Socket.IO EVENT or ACK packet (without the
// Engine.IO "4").
func AppendEnvelope(dst []byte, e Envelope) []byte {
	p := Packet{Type: Event, Namespace: e.Namespace, ID: e.ID}
	if e.IsAck() {
		p.Type = Ack
	}
	dst = AppendPacket(dst, p)
	dst = append(dst, '[')
	if !e.IsAck() {
		dst = append(dst, e.Event...)
		if len(e.Args) > 0 {
			dst = append(dst, ',')
		}
	}
	dst = appendJoined(dst, e.Args)
	return append(dst, ']')
}

// AppendMessageEvent encodes text as the event "message" with the text as
// its single argument, on namespace ns.
func AppendMessageEvent(dst []byte, ns string, text []byte) []byte {
	dst = AppendPacket(dst, Packet{Type: Event, Namespace: ns, ID: NoID})
	dst = append(dst, `["message",`...)
	dst = AppendQuote(dst, string(text))
	return append(dst, ']')
}
