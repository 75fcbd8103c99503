package sio

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

// Engine.IO packet types, the first byte of every text frame.
const (
	EngineOpen    = '0'
	EngineClose   = '1'
	EnginePing    = '2'
	EnginePong    = '3'
	EngineMessage = '4'
	EngineUpgrade = '5'
	EngineNoop    = '6'
)

// Type is a Socket.IO packet type.
type Type uint8

// Socket.IO packet types. ConnectError is called ERROR in revision 4.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

// Errors from ParsePacket.
var (
	ErrPacket  = errors.New("sio: invalid socket.io packet")
	ErrPayload = errors.New("sio: invalid socket.io payload")
)

// NoID marks a packet without an acknowledgement id.
const NoID = -1

// maxID is the largest id JavaScript holds exactly (2^53-1).
const maxID = 1<<53 - 1

// Packet is a decoded Socket.IO packet (without the Engine.IO "4").
type Packet struct {
	Type        Type
	Attachments int    // binary attachments announced (BinaryEvent, BinaryAck)
	Namespace   string // "/" unless given
	Query       string // revision 4 allows "/nsp?query" in CONNECT; the part after '?'
	ID          int64  // acknowledgement id, or NoID
	Data        []byte // raw JSON payload, nil if absent
	// Elems are the raw elements of Data when it is an array (EVENT, ACK
	// and their binary forms); ParseInto reuses the slice.
	Elems [][]byte
}

// ParsePacket decodes a Socket.IO packet the way the reference parser does,
// and checks the payload's shape for its type: CONNECT an object or
// nothing (revision 4: nothing), DISCONNECT nothing, EVENT a non-empty
// array starting with the event name (a string, and not one of the names
// the reference parser reserves: connect, connect_error, disconnect,
// disconnecting, newListener, removeListener), ACK an array,
// CONNECT_ERROR an object or a string.
func ParsePacket(b []byte) (Packet, error) {
	var p Packet
	err := ParseInto(&p, b)
	return p, err
}

// ParseInto is ParsePacket into *p, reusing p.Elems.
func ParseInto(p *Packet, b []byte) error {
	*p = Packet{Namespace: "/", ID: NoID, Elems: p.Elems[:0]}
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return ErrPacket
	}
	p.Type = Type(b[0] - '0')
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 6 {
			j++
		}
		if j == i || j >= len(b) || b[j] != '-' {
			return ErrPacket
		}
		p.Attachments, _ = strconv.Atoi(string(b[i:j]))
		i = j + 1
	}
	if i < len(b) && b[i] == '/' {
		j := i
		for j < len(b) && b[j] != ',' {
			j++
		}
		nsp := string(b[i:j])
		if k := strings.IndexByte(nsp, '?'); k >= 0 {
			nsp, p.Query = nsp[:k], nsp[k+1:]
		}
		p.Namespace = nsp
		i = j
		if i < len(b) { // skip the comma
			i++
		}
	}
	if j := i; j < len(b) && b[j] >= '0' && b[j] <= '9' {
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		// Leading zeros are allowed: the reference parser reads the
		// digits as a number.
		if digits := strings.TrimLeft(string(b[i:j]), "0"); digits != "" {
			id, ok := ParseUint([]byte(digits))
			if !ok {
				return ErrPacket
			}
			p.ID = id
		} else {
			p.ID = 0
		}
		i = j
	}
	if i < len(b) {
		p.Data = b[i:]
		var err error
		if d := trim(p.Data); IsArray(d) {
			p.Elems, err = AppendElems(p.Elems, d)
		} else if !Valid(d) {
			err = ErrJSON
		}
		if err != nil {
			return ErrPayload
		}
	}
	if !payloadValid(p) {
		return ErrPayload
	}
	return nil
}

func payloadValid(p *Packet) bool {
	d := trim(p.Data)
	switch p.Type {
	case Connect:
		return d == nil || IsObject(d)
	case Disconnect:
		return d == nil
	case ConnectError:
		return d == nil || IsObject(d) || IsString(d)
	case Event, BinaryEvent:
		return IsArray(d) && len(p.Elems) > 0 && IsString(p.Elems[0]) && !reserved(p.Elems[0])
	case Ack, BinaryAck:
		return IsArray(d)
	}
	return false
}

// reservedEvents are the event names the reference parser refuses from the
// other side: Socket.IO and Node.js use them for their own events.
var reservedEvents = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// reserved reports whether the string token tok names a reserved event.
func reserved(tok []byte) bool {
	name := tok[1 : len(tok)-1]
	if bytes.IndexByte(name, '\\') >= 0 { // rare: decode the escapes
		s, err := Unquote(tok)
		if err != nil {
			return false
		}
		name = []byte(s)
	}
	for _, r := range reservedEvents {
		if string(name) == r {
			return true
		}
	}
	return false
}

func trim(b []byte) []byte {
	if b == nil {
		return nil
	}
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// AppendPacket encodes p after dst (without the Engine.IO "4"). The
// namespace is written only when it is not "/", always followed by a comma.
func AppendPacket(dst []byte, p Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}
