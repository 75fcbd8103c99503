package autobahn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// protoState is the WebSocket connection state, as the official client
// tracks it.
type protoState int

const (
	stateClosed protoState = iota
	stateConnecting
	stateClosing
	stateOpen
)

// Close codes the cases use.
const (
	closeNormal         = 1000
	closeGoingAway      = 1001
	closeProtocolError  = 1002
	closeInvalidPayload = 1007
)

// Timeouts of the official client (autobahn 0.10.9 defaults, with the
// fuzzing client's failByDrop=false).
const (
	openHandshakeTimeout        = 5 * time.Second
	closeHandshakeTimeout       = 1 * time.Second
	serverConnectionDropTimeout = 1 * time.Second
	dialTimeout                 = 10 * time.Second
	flushTimeout                = 5 * time.Second
	writeErrorGrace             = 500 * time.Millisecond
)

// runConfig is what every case run shares.
type runConfig struct {
	url       *wsURL
	header    http.Header
	tlsConfig *tls.Config
	chopPause time.Duration
	timeout   time.Duration // per case hard limit; 0 means derive from the case
	data      *testDataSet
}

func (c *runConfig) limit(s *caseSpec) time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	return s.limit + 10*time.Second
}

// run is one execution of one case: the connection, the protocol state
// machine of the official client, and the state of the case itself. All of
// it is owned by the run's event loop goroutine.
type run struct {
	spec *caseSpec
	cfg  *runConfig

	// network and event loop
	conn     net.Conn
	tr       *transport
	readc    chan readEvent
	timers   timerQueue
	closeReq *bool  // set when the protocol asked to close the transport (value: abort)
	fatal    string // set when processing stopped the way an exception stops the official client
	note     string // why the runner intervened, for the report

	// receiving
	state         protoState
	data          []byte
	frame         *frameHeader
	framePos      uint64
	insideMessage bool
	msgBinary     bool
	msgCompressed bool
	msg           []byte
	zmsg          []byte // compressed payload of the message being received
	ctrl          []byte
	utf8          utf8Validator
	utf8Active    bool
	utf8Last      utf8Result

	// handshake and extensions
	key           string
	offers        []deflateOffer
	acceptDeflate bool
	pmce          *deflateCodec
	httpRequest   string
	httpResponse  string
	serverHeader  string

	// sending
	autoFragmentSize int
	send             streamState

	// close bookkeeping, named as in the official client
	closedByMe, failedByMe, droppedByMe, wasClean     bool
	wasNotCleanReason                                 *string
	wasServerConnectionDropTimeout                    bool
	wasOpenHandshakeTimeout, wasCloseHandshakeTimeout bool
	localCloseCode, remoteCloseCode                   *int
	localCloseReason                                  []byte
	hasLocalCloseReason                               bool
	localCloseReasonReport                            *string
	remoteCloseReason                                 *string
	connectionWasOpen                                 bool
	openTimer, closeTimer, dropTimer                  *timer

	// the case
	received               []event
	expected               []outcome
	expectedClose          closeExpectation
	behavior               string
	behaviorClose          string
	result                 string
	resultClose            string
	reportTime             bool
	reportCompressionRatio bool
	suppressClose          bool
	onMessage              func(payload []byte, binary bool)
	traffic                trafficStats
	trafficResult          *trafficStats

	// wire log and statistics
	wirelogOn                              bool
	wirelog                                []any
	rfHead                                 []byte // start of the payload of the frame being received
	rfLen                                  int
	rxOctets, txOctets, rxFrames, txFrames map[int]int

	started   time.Time
	caseStart time.Time
	caseEnd   time.Time
}

type readEvent struct {
	data []byte
	err  error
}

func newRun(spec *caseSpec, cfg *runConfig) *run {
	r := &run{
		spec:          spec,
		cfg:           cfg,
		behavior:      Failed,
		behaviorClose: Failed,
		result:        "The observed events match no expected outcome.",
		resultClose:   "The TCP connection ended without a closing handshake.",
		wirelogOn:     true,
		rxOctets:      map[int]int{},
		txOctets:      map[int]int{},
		rxFrames:      map[int]int{},
		txFrames:      map[int]int{},
	}
	r.onMessage = r.defaultOnMessage
	if spec.setup != nil {
		spec.setup(r)
	}
	return r
}

// execute runs the case to the end and returns its report.
func (r *run) execute(ctx context.Context) *caseReport {
	r.started = time.Now()
	conn, err := r.dial(ctx)
	if err != nil {
		return r.connectFailed(err)
	}
	r.conn = conn
	r.tr = newTransport(conn, r.cfg.chopPause)
	r.readc = make(chan readEvent, 16)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		readLoop(conn, r.readc, stop)
	}()

	r.state = stateConnecting
	r.startHandshake()
	r.openTimer = r.callLater(openHandshakeTimeout, r.onOpenHandshakeTimeout)
	r.loop(ctx)

	close(stop)
	_ = conn.Close()
	wg.Wait()
	return r.report()
}

func (r *run) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	addr := net.JoinHostPort(r.cfg.url.host, fmt.Sprint(r.cfg.url.port))
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if !r.cfg.url.secure {
		return conn, nil
	}
	cfg := &tls.Config{}
	if r.cfg.tlsConfig != nil {
		cfg = r.cfg.tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = r.cfg.url.host
	}
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

func readLoop(conn net.Conn, out chan<- readEvent, stop <-chan struct{}) {
	buf := make([]byte, 64<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			select {
			case out <- readEvent{data: append([]byte(nil), buf[:n]...)}:
			case <-stop:
				return
			}
		}
		if err != nil {
			select {
			case out <- readEvent{err: err}:
			case <-stop:
			}
			return
		}
	}
}

// loop is the reactor of one case: it feeds received data and due timers to
// the protocol until the connection is gone.
func (r *run) loop(ctx context.Context) {
	hard := time.NewTimer(r.cfg.limit(r.spec))
	defer hard.Stop()
	tick := time.NewTimer(time.Hour)
	defer tick.Stop()
	for {
		if at, ok := r.timers.next(); ok {
			tick.Reset(time.Until(at))
		} else {
			tick.Reset(time.Hour)
		}
		select {
		case ev := <-r.readc:
			if ev.err != nil {
				r.lostByPeer()
				return
			}
			r.dataReceived(ev.data)
		case <-r.tr.errc:
			// The peer is gone. What it sent before is still to be read,
			// and the reader will report the end of the connection after
			// it; wait a little for that, as the official client reads
			// before it notices a failed write.
			r.callLater(writeErrorGrace, func() {
				r.fatal = "writing to the connection failed"
			})
		case <-tick.C:
			r.runTimers()
		case <-hard.C:
			r.note = fmt.Sprintf("runner: case did not finish within %s", r.cfg.limit(r.spec))
			r.runnerAbort()
		case <-ctx.Done():
			r.note = "runner: cancelled"
			r.runnerAbort()
		}
		if r.fatal != "" {
			r.note = r.fatal
			r.lostByPeer()
			return
		}
		if r.closeReq != nil {
			r.tr.close(*r.closeReq)
			r.tr.wait(flushTimeout)
			r.connectionLost()
			return
		}
	}
}

func (r *run) runTimers() {
	now := time.Now()
	for {
		t := r.timers.popDue(now)
		if t == nil {
			return
		}
		t.fn()
		if r.closeReq != nil || r.fatal != "" {
			return
		}
	}
}

func (r *run) callLater(d time.Duration, fn func()) *timer {
	return r.timers.schedule(time.Now().Add(d), fn)
}

// lostByPeer ends the connection because the peer (or the network) closed it.
func (r *run) lostByPeer() {
	r.tr.close(true)
	r.tr.wait(flushTimeout)
	r.connectionLost()
}

// runnerAbort drops the connection when the runner's own limit is reached.
// The official suite has no such limit; a case that would hang there ends
// here with the connection dropped by the client.
func (r *run) runnerAbort() {
	if r.state != stateClosed {
		r.wasClean = false
		reason := r.note
		r.wasNotCleanReason = &reason
		r.dropConnection(true)
		return
	}
	abort := true
	r.closeReq = &abort
}

func (r *run) closeTransport(abort bool) {
	if r.closeReq == nil {
		r.closeReq = &abort
	}
}

// connectionLost is the end of every run that got a TCP connection.
func (r *run) connectionLost() {
	r.openTimer.cancel()
	r.closeTimer.cancel()
	r.dropTimer.cancel()
	if r.state != stateClosed {
		r.state = stateClosed
	}
	if !r.wasClean && !r.droppedByMe && r.wasNotCleanReason == nil {
		s := "server closed the TCP connection without a closing handshake"
		r.wasNotCleanReason = &s
	}
	r.caseEnd = time.Now()
	r.caseConnectionLost()
}

func (r *run) connectFailed(err error) *caseReport {
	r.caseEnd = time.Now()
	r.note = "TCP connection failed: " + err.Error()
	r.caseConnectionLost()
	r.resultClose = r.note
	return r.report()
}
