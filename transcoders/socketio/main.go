package main

import (
	"errors"
	"strconv"
	"strings"
	"time"

	guest "github.com/edgews/edgews/guest-sdk"
	"github.com/edgews/edgews/transcoders/socketio/sio"
)

// Timers of a socket.
const (
	timerPing     = 1 // EIO=4: time to send the next ping
	timerDeadline = 2 // no pong (EIO=4) or no packet at all (EIO=3) in time
	timerConnect  = 3 // EIO=4: no namespace CONNECT in time
)

// Close codes and reasons (README.md, "Closing").
const (
	closeNormal      = 1000 // the client sent an Engine.IO close packet
	closeProtocol    = 1002 // not Engine.IO / Socket.IO, or an unknown EIO
	closeUnsupported = 1003 // binary frames and attachments
	closeTooBig      = 1009 // a message over maxPayload
	closePingTimeout = 4000 // the heartbeat stopped
	closeNoConnect   = 4001 // EIO=4 without a namespace CONNECT in time
)

// config is the guest config (JSON); zero fields take the defaults of the
// protocol version. It is the same for every socket, so it lives in the
// instance.
type config struct {
	pingInterval   time.Duration
	pingTimeout    time.Duration
	connectTimeout time.Duration
	maxPayload     int
}

var cfg config

// parseConfig reads {"pingInterval":ms,"pingTimeout":ms,"connectTimeout":ms,"maxPayload":bytes}.
func parseConfig(s string) (config, error) {
	var c config
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	var bad error
	err := sio.Members([]byte(s), func(k, val []byte) {
		key := string(k)
		n, ok := sio.ParseUint(val)
		if !ok || n == 0 {
			bad = errors.New("socketio: config " + key + " must be a positive integer")
			return
		}
		switch key {
		case "pingInterval":
			c.pingInterval = time.Duration(n) * time.Millisecond
		case "pingTimeout":
			c.pingTimeout = time.Duration(n) * time.Millisecond
		case "connectTimeout":
			c.connectTimeout = time.Duration(n) * time.Millisecond
		case "maxPayload":
			c.maxPayload = int(n)
		default:
			bad = errors.New("socketio: unknown config key " + strconv.Quote(key))
		}
	})
	if err != nil {
		return c, errors.New("socketio: config is not a JSON object")
	}
	return c, bad
}

// Defaults of the reference servers: engine.io 3 (Socket.IO 2) and
// engine.io 6 (Socket.IO 4).
func (c config) interval() time.Duration { return or(c.pingInterval, 25*time.Second) }

func (c config) timeout(v byte) time.Duration {
	if v == '3' {
		return or(c.pingTimeout, 5*time.Second)
	}
	return or(c.pingTimeout, 20*time.Second)
}

func (c config) connectWait() time.Duration { return or(c.connectTimeout, 45*time.Second) }

func (c config) payload() int {
	if c.maxPayload > 0 {
		return c.maxPayload
	}
	return 1000000
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func init() {
	guest.Register(guest.Handlers{
		Init: func(s string) (err error) {
			cfg, err = parseConfig(s)
			return err
		},
		Open:     open,
		Inbound:  inbound,
		Outbound: outbound,
		Timer:    timer,
	})
}

func main() {}

// closeWith asks the host to close the socket, disarming its timers first:
// nothing more is due once the socket is closing.
func closeWith(code uint16, reason string) error {
	for _, id := range []uint32{timerPing, timerDeadline, timerConnect} {
		if err := guest.CancelTimer(id); err != nil {
			return err
		}
	}
	return guest.Close(code, reason)
}

// write sends a text frame. A socket that is already closing takes no more
// frames; that is not an error of the call.
func write(b []byte) error {
	if err := guest.WriteFrame(false, b); err != nil && !errors.Is(err, guest.ErrClosed) {
		return err
	}
	return nil
}

// protocolError closes the socket for a protocol violation.
func protocolError(reason string) error {
	return closeWith(closeProtocol, reason)
}

func open(info guest.OpenInfo) error {
	eio, transport := queryValue(info.Query, "EIO"), queryValue(info.Query, "transport")
	if eio != "3" && eio != "4" {
		return protocolError("unsupported EIO " + strconv.Quote(limit(eio, 16)) + ": this server speaks EIO=3 and EIO=4")
	}
	if transport != "websocket" {
		return protocolError("unsupported transport " + strconv.Quote(limit(transport, 16)) + ": only websocket")
	}
	st := state{version: eio[0], sid: []byte(sanitizeSID(info.SocketID))}
	if eio == "3" {
		// Socket.IO 2 connects the default namespace implicitly.
		_ = st.add("/")
	}
	if err := st.save(); err != nil {
		return err
	}
	b := []byte{sio.EngineOpen}
	b = append(b, `{"sid":`...)
	b = sio.AppendQuote(b, string(st.sid))
	b = append(b, `,"upgrades":[],"pingInterval":`...)
	b = strconv.AppendInt(b, cfg.interval().Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, cfg.timeout(st.version).Milliseconds(), 10)
	if st.version == '4' {
		b = append(b, `,"maxPayload":`...)
		b = strconv.AppendInt(b, int64(cfg.payload()), 10)
	}
	b = append(b, '}')
	if err := write(b); err != nil {
		return err
	}
	if st.version == '3' {
		if err := write([]byte("40")); err != nil {
			return err
		}
		return guest.ArmTimer(timerDeadline, cfg.interval()+cfg.timeout('3'))
	}
	if err := guest.ArmTimer(timerConnect, cfg.connectWait()); err != nil {
		return err
	}
	return guest.ArmTimer(timerPing, cfg.interval())
}

func inbound(m guest.Message) error {
	st, ok := loadState()
	if !ok {
		return nil // the socket was refused in open; its close is on the way
	}
	if len(m.Data) > cfg.payload() {
		return closeWith(closeTooBig, "message larger than maxPayload")
	}
	if m.Binary {
		return closeWith(closeUnsupported, "binary frames (socket.io attachments) are not supported")
	}
	if st.version == '3' {
		// Any packet shows the client is alive (engine.io 3 server).
		if err := guest.ArmTimer(timerDeadline, cfg.interval()+cfg.timeout('3')); err != nil {
			return err
		}
	}
	if len(m.Data) == 0 {
		return protocolError("empty engine.io packet")
	}
	switch m.Data[0] {
	case sio.EnginePing: // EIO=3 heartbeat, or a probe
		pong := append([]byte{sio.EnginePong}, m.Data[1:]...)
		return write(pong)
	case sio.EnginePong:
		if st.version == '4' && len(m.Data) == 1 {
			if err := guest.CancelTimer(timerDeadline); err != nil {
				return err
			}
			return guest.ArmTimer(timerPing, cfg.interval())
		}
		return nil
	case sio.EngineMessage:
		return socketPacket(st, m.Data[1:])
	case sio.EngineClose:
		return closeWith(closeNormal, "client closed")
	case sio.EngineUpgrade, sio.EngineNoop:
		return nil
	}
	return protocolError("invalid engine.io packet")
}

// buf, pkt and env are reused from call to call within an instance (they
// hold nothing of a socket once a call returns).
var (
	buf []byte
	pkt sio.Packet
	env sio.Envelope
)

func socketPacket(st state, data []byte) error {
	p := &pkt
	err := sio.ParseInto(p, data)
	if err != nil {
		return protocolError("invalid socket.io packet")
	}
	switch p.Type {
	case sio.Connect:
		return connect(st, p)
	case sio.Disconnect:
		if st.remove(p.Namespace) {
			return st.save()
		}
		return nil
	case sio.Event, sio.Ack:
		if !st.connected(p.Namespace) {
			if st.version == '4' {
				return protocolError("packet for a namespace that is not connected")
			}
			guest.Log(guest.LevelDebug, "socketio: ignoring a packet for unconnected namespace "+limit(p.Namespace, 64))
			return nil
		}
		if p.Type == sio.Event {
			buf, err = sio.AppendListenerEvent(buf[:0], p)
		} else {
			buf, err = sio.AppendListenerAck(buf[:0], p)
		}
		if err != nil {
			return protocolError("invalid socket.io payload")
		}
		return guest.Deliver(false, buf)
	case sio.BinaryEvent, sio.BinaryAck:
		return closeWith(closeUnsupported, "socket.io binary attachments are not supported")
	}
	return nil // CONNECT_ERROR from a client means nothing
}

func connect(st state, p *sio.Packet) error {
	buf = append(buf[:0], sio.EngineMessage)
	if !st.connected(p.Namespace) {
		if why := st.add(p.Namespace); why != "" {
			// Refuse with CONNECT_ERROR: an object in revision 5, a string
			// in revision 4.
			var msg []byte
			if st.version == '4' {
				msg = append(sio.AppendQuote([]byte(`{"message":`), why), '}')
			} else {
				msg = sio.AppendQuote(nil, why)
			}
			buf = sio.AppendPacket(buf, sio.Packet{Type: sio.ConnectError, Namespace: p.Namespace, ID: sio.NoID, Data: msg})
			return write(buf)
		}
		if err := st.save(); err != nil {
			return err
		}
	}
	reply := sio.Packet{Type: sio.Connect, Namespace: p.Namespace, ID: sio.NoID}
	if st.version == '4' {
		if err := guest.CancelTimer(timerConnect); err != nil {
			return err
		}
		sid := append(sio.AppendQuote([]byte(`{"sid":`), string(st.sid)+"#"+p.Namespace), '}')
		reply.Data = sid
	}
	buf = sio.AppendPacket(buf, reply)
	return write(buf)
}

func outbound(m guest.Message) error {
	st, ok := loadState()
	if !ok {
		return nil
	}
	if m.Binary {
		guest.Log(guest.LevelWarn, "socketio: dropping a binary outbound message: attachments are not supported")
		return nil
	}
	buf = append(buf[:0], sio.EngineMessage)
	if sio.ParseEnvelopeInto(&env, m.Data) {
		if !st.connected(env.Namespace) {
			guest.Log(guest.LevelDebug, "socketio: dropping a message for unconnected namespace "+limit(env.Namespace, 64))
			return nil
		}
		buf = sio.AppendEnvelope(buf, env)
	} else {
		if !st.connected("/") {
			guest.Log(guest.LevelDebug, "socketio: dropping a message: the default namespace is not connected")
			return nil
		}
		buf = sio.AppendMessageEvent(buf, "/", m.Data)
	}
	return write(buf)
}

func timer(id uint32) error {
	st, ok := loadState()
	if !ok {
		return nil
	}
	switch id {
	case timerPing:
		if err := write([]byte{sio.EnginePing}); err != nil {
			return err
		}
		return guest.ArmTimer(timerDeadline, cfg.timeout(st.version))
	case timerDeadline:
		return closeWith(closePingTimeout, "ping timeout")
	case timerConnect:
		if st.count() == 0 {
			return closeWith(closeNoConnect, "no namespace connect in time")
		}
	}
	return nil
}

// queryValue returns the first value of key in a raw query string.
func queryValue(q, key string) string {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v
		}
	}
	return ""
}

func limit(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sanitizeSID keeps the socket id usable as an Engine.IO sid and inside
// the state attribute (no newlines).
func sanitizeSID(id string) string {
	if id == "" {
		return "sid"
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, limit(id, 128))
}
