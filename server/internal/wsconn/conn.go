package wsconn

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/edgews/edgews/server/internal/netpoll"
	"github.com/edgews/edgews/server/internal/wsproto"
)

// QueuePolicy says what happens when a connection's outbound queue is full.
type QueuePolicy uint8

const (
	// CloseSlow closes the connection (with Config.FullCloseCode).
	CloseSlow QueuePolicy = iota
	// DropOldest drops the oldest queued messages to make room.
	DropOldest
)

// ErrQueueFull is returned by Write when the message could not be queued
// because the queue is full (the connection is being closed, or the
// message itself is larger than the whole queue).
var ErrQueueFull = errors.New("wsconn: outbound queue full")

// Config holds the settings shared by the connections of one route. It must
// not be modified after connections use it.
type Config struct {
	Parser           wsproto.ParserConfig
	MaxQueueMessages int           // 0: unlimited
	MaxQueueBytes    int           // 0: unlimited
	OnFull           QueuePolicy   //
	FullCloseCode    uint16        // close code for CloseSlow (default 1008)
	WriteTimeout     time.Duration // a blocked write longer than this aborts the connection
	CloseTimeout     time.Duration // wait for the peer's close frame or EOF after ours
	PingInterval     time.Duration // ping a peer silent for this long; 0: never
	PongTimeout      time.Duration // abort a pinged peer silent for this long
	ReadTimeout      time.Duration // a started frame or message must complete within this; 0: no limit
	CompressMin      int           // messages shorter than this are sent uncompressed
	MaxControlRate   int           // control frames (ping, pong) accepted per second; 0: no limit
	Stats            *Stats        // counters; may be shared by many connections
}

// Stats counts what connections did. All fields are updated atomically.
type Stats struct {
	MessagesIn, BytesIn   atomic.Uint64
	MessagesOut, BytesOut atomic.Uint64
	// DroppedOut counts outgoing messages that were not written: dropped by
	// DropOldest, refused by a full queue, or pending when the connection
	// went away.
	DroppedOut atomic.Uint64
	// DroppedIn counts incoming data messages that were read but not
	// delivered: they arrived after this side began closing. (The server
	// adds those a transcoder left unhandled.)
	DroppedIn       atomic.Uint64
	SlowClosed      atomic.Uint64 // connections closed because their queue was full
	PingTimeouts    atomic.Uint64
	ReadTimeouts    atomic.Uint64
	WriteTimeouts   atomic.Uint64
	ProtocolErrors  atomic.Uint64 // closes with 1002, 1007 or 1009 caused by the peer
	TooBig          atomic.Uint64 // of which 1009: message (or decompressed message, or fragments) over the limit
	InvalidUTF8     atomic.Uint64 // of which 1007: text that is not UTF-8
	ControlFloods   atomic.Uint64 // closes for exceeding MaxControlRate
	PartialBudget   atomic.Uint64 // closes (1013) because the node-wide budget for partly received messages was spent
	CompressedIn    atomic.Uint64
	CompressedOut   atomic.Uint64
	Inflated        atomic.Uint64 // bytes after inflating compressed input
	DeflatedSavings atomic.Int64  // bytes saved by compression on output
}

// Handler receives a connection's messages and its end.
type Handler interface {
	// OnMessage receives a whole data message; data is valid only during
	// the call.
	OnMessage(c *Conn, op byte, data []byte)
	// OnReadEnd is called at the end of each read round (after the
	// OnMessage calls of the bytes that arrived together), before what the
	// round queued is written; handlers that batch work per round flush it
	// here. It is also called mid-round, before the close frame of a
	// protocol error or of the peer's close is queued, so a round may see
	// it more than once: it must do nothing when nothing is pending.
	OnReadEnd(c *Conn)
	// OnClose is called once when the connection is gone. code is the close
	// code of the handshake (the peer's if it started it, ours otherwise) or
	// 1006 when there was none; cause is a short machine-readable reason
	// ("peer", "server", "ping_timeout", "read_timeout", "write_error",
	// "protocol_error", "eof").
	OnClose(c *Conn, code uint16, reason string, cause string)
}

type outFrame struct {
	op    byte
	data  []byte
	count int // opRaw only: data messages this completes
}

// Conn is one WebSocket connection after a successful upgrade.
type Conn struct {
	nc  net.Conn
	reg atomic.Pointer[netpoll.Desc] // set by Serve; read by abort from any goroutine
	cfg *Config
	h   Handler

	// Read side: touched only on the read path.
	parser     wsproto.Parser
	inflater   *wsproto.Inflater
	drain      bool // discard input (after a protocol error or the peer's close)
	finished   bool
	deflate    *wsproto.DeflateParams
	ctrlWindow int64 // unix second of the control-frame count
	ctrlCount  int

	// Timestamps (unix nanoseconds) shared with the sweeper.
	lastRead      atomic.Int64
	pingSent      atomic.Int64
	partialSince  atomic.Int64
	closeDeadline atomic.Int64
	dead          atomic.Bool // teardown requested; the read path finishes it

	// Write side.
	mu           sync.Mutex
	queue        []outFrame
	queueBytes   int
	writing      bool
	inRead       bool            // the read path runs: its replies go out together at its end
	rc           syscall.RawConn // plain TCP read by epoll: read and written through it (set by Serve under mu before the fd is armed, so the read path reads it without mu)
	closeQueued  bool            // our close frame is queued or written: no more data
	closeRecv    bool            // the peer's close frame arrived
	closeWritten bool
	code         uint16 // close code to report
	reason       string
	cause        string
	deflater     *wsproto.Deflater
}

// New wraps an upgraded connection. deflate is the negotiated
// permessage-deflate parameters, or nil.
func New(nc net.Conn, cfg *Config, deflate *wsproto.DeflateParams, h Handler) *Conn {
	c := &Conn{nc: nc, cfg: cfg, h: h, deflate: deflate}
	c.parser.Config = cfg.Parser
	if deflate != nil {
		c.parser.Config.Compression = true
		c.inflater = wsproto.NewInflater(*deflate)
		c.deflater = wsproto.NewDeflater(*deflate)
	}
	c.lastRead.Store(time.Now().UnixNano())
	return c
}

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.deflate != nil }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Serve starts reading. leftover holds bytes that arrived with the upgrade
// request. With a poller and a pollable connection, reading is driven by
// readiness; otherwise a goroutine reads. Serve returns at once.
func (c *Conn) Serve(p *netpoll.Poller, leftover []byte) {
	if len(leftover) > 0 {
		buf := append([]byte(nil), leftover...)
		c.beginRead()
		c.consume(buf)
		c.endRead()
	}
	if p != nil {
		if fd, ok := rawFD(c.nc); ok {
			rc, _ := c.nc.(*net.TCPConn).SyscallConn()
			c.mu.Lock()
			c.rc = rc
			c.mu.Unlock()
			reg, err := p.Prepare(fd, c)
			if err == nil {
				c.reg.Store(reg)
				if err = reg.Arm(); err == nil {
					if c.dead.Load() {
						reg.Trigger()
					}
					return
				}
			}
			c.reg.Store(nil)
			c.mu.Lock()
			c.rc = nil
			c.mu.Unlock()
		}
	}
	go c.readLoop()
}

// rawFD returns the fd of a plain TCP connection.
func rawFD(nc net.Conn) (int, bool) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return -1, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, false
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1, false
	}
	return fd, fd >= 0
}

// abort requests teardown from any goroutine: it unblocks the reader and
// the writer; the read path then finishes the connection.
func (c *Conn) abort(code uint16, reason, cause string) {
	c.mu.Lock()
	if c.cause == "" {
		c.code, c.reason, c.cause = code, reason, cause
	}
	c.mu.Unlock()
	if !c.dead.CompareAndSwap(false, true) {
		return
	}
	_ = c.nc.SetDeadline(time.Unix(1, 0))
	if reg := c.reg.Load(); reg != nil {
		reg.Trigger()
	}
}

// finish tears the connection down; read path only.
func (c *Conn) finish() {
	if c.finished {
		return
	}
	c.finished = true
	c.dead.Store(true)
	if reg := c.reg.Load(); reg != nil {
		// Unregister while the fd is certainly ours: under Control the
		// number cannot be closed and reused. If the conn was closed
		// already, the kernel dropped the registration with it, and
		// EPOLL_CTL_DEL on the number could hit another connection's.
		if c.rc == nil || c.rc.Control(func(uintptr) { reg.Remove() }) != nil {
			reg.Forget()
		}
	}
	_ = c.nc.Close()
	c.mu.Lock()
	dropped := len(c.queue)
	c.queue, c.queueBytes = nil, 0
	if c.cause == "" {
		c.code, c.cause = wsproto.CloseAbnormal, "eof"
	}
	code, reason, cause := c.code, c.reason, c.cause
	c.mu.Unlock()
	if dropped > 0 && c.cfg.Stats != nil {
		c.cfg.Stats.DroppedOut.Add(uint64(dropped))
	}
	c.parser.Reset()
	if c.inflater != nil {
		c.inflater.Release()
	}
	c.h.OnClose(c, code, reason, cause)
}

// LastRead returns when bytes last arrived (unix nanoseconds).
func (c *Conn) LastRead() int64 { return c.lastRead.Load() }

// Tick enforces the connection's timers; the server's sweeper calls it
// periodically with the current time. It never blocks.
func (c *Conn) Tick(now time.Time) {
	if c.dead.Load() {
		return
	}
	n := now.UnixNano()
	if dl := c.closeDeadline.Load(); dl != 0 && n > dl {
		c.abort(0, "", "close_timeout")
		return
	}
	if rt := c.cfg.ReadTimeout; rt > 0 {
		if ps := c.partialSince.Load(); ps != 0 && n-ps > int64(rt) {
			if c.cfg.Stats != nil {
				c.cfg.Stats.ReadTimeouts.Add(1)
			}
			c.closeWith(wsproto.ClosePolicyViolation, "read timeout: message not completed in time", "read_timeout")
			return
		}
	}
	if c.cfg.PingInterval <= 0 {
		return
	}
	last := c.lastRead.Load()
	if ps := c.pingSent.Load(); ps != 0 && ps > last {
		if n-ps > int64(c.cfg.PongTimeout) {
			if c.cfg.Stats != nil {
				c.cfg.Stats.PingTimeouts.Add(1)
			}
			c.abort(wsproto.CloseAbnormal, "ping timeout", "ping_timeout")
		}
		return
	}
	if n-last >= int64(c.cfg.PingInterval) {
		c.pingSent.Store(n)
		_ = c.enqueue(wsproto.OpPing, nil, false)
	}
}
