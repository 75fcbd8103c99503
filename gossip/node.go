package gossip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgews/edgews/gossip/internal/hmacauth"
	"github.com/hashicorp/serf/serf"
)

// Node is this process's membership in an edgews cluster. Create it with
// New, register nothing else, call Start, and end with Leave (graceful) or
// Shutdown (hard stop). All methods are safe for concurrent use.
type Node struct {
	cfg   Config
	local Local
	log   *slog.Logger

	boot       uint64 // random per process; tells incarnations apart
	clusterKey []byte // decoded EncryptKey, nil if none
	signer     *hmacauth.Signer
	verifier   *hmacauth.Verifier
	client     *http.Client
	scheme     string
	queue      atomic.Pointer[QueueSettings]
	m          counters
	limiter    *rateLimiter
	querySem   chan struct{}
	queryMu    sync.Mutex // serialises serf.Query, see Exists

	mu       sync.RWMutex
	state    nodeState
	peers    map[string]*peer // other live members, by name
	changeCh chan struct{}    // closed and replaced on every membership change

	serf         *serf.Serf
	events       chan serf.Event
	srv          *http.Server
	internalAddr string // advertised payload address

	// life is cancelled at Shutdown; it bounds the Local calls gossip
	// makes for other members, and handlers counts the payload requests
	// being served, so that none of them outlives Shutdown.
	life     context.Context
	stopLife context.CancelFunc
	handlers sync.WaitGroup

	recvMu  sync.Mutex
	inbound map[string]*inboundState // dedup state per sending member

	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

type nodeState int

const (
	stateNew nodeState = iota
	stateStarting
	stateRunning
	stateLeaving
	stateClosed
)

// Tags gossip sets on its member. Peers need the internal address and boot
// id; the rest is informational.
const (
	tagVersion  = reservedTagPrefix + "v"
	tagProto    = reservedTagPrefix + "proto"
	tagInternal = reservedTagPrefix + "ia"
	tagBoot     = reservedTagPrefix + "boot"
	tagScheme   = reservedTagPrefix + "scheme"

	protoVersion = "1"
)

// New validates cfg and prepares a node; nothing is bound or sent until
// Start. logger receives gossip's own logs and serf's and memberlist's;
// nil discards them.
func New(cfg Config, local Local, logger *slog.Logger) (*Node, error) {
	if local == nil {
		return nil, fmt.Errorf("%w: Local must not be nil", ErrConfig)
	}
	clusterKey, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("node", cfg.NodeName))

	secret := []byte(insecureSecret)
	switch {
	case cfg.PayloadSecret != "":
		secret = []byte(cfg.PayloadSecret)
	case len(clusterKey) > 0:
		secret = clusterKey
	default:
		logger.Warn("gossip: no EncryptKey or PayloadSecret; gossip and the payload path are not authenticated (loopback only)")
	}
	hkey, err := hmacauth.DeriveKey(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("gossip: boot id: %w", err)
	}

	cfg.Join = append([]string(nil), cfg.Join...)
	life, stopLife := context.WithCancel(context.Background())
	n := &Node{
		life:       life,
		stopLife:   stopLife,
		cfg:        cfg,
		local:      local,
		log:        logger,
		boot:       binary.BigEndian.Uint64(b[:]),
		clusterKey: clusterKey,
		signer:     hmacauth.NewSigner(hkey, cfg.NodeName),
		verifier:   hmacauth.NewVerifier(hkey, cfg.MaxClockSkew),
		scheme:     "http",
		limiter:    newRateLimiter(10 * time.Second),
		querySem:   make(chan struct{}, cfg.QueryWorkers),
		peers:      make(map[string]*peer),
		changeCh:   make(chan struct{}),
		events:     make(chan serf.Event, 1024),
		inbound:    make(map[string]*inboundState),
		done:       make(chan struct{}),
	}
	if cfg.PayloadTLS != nil {
		n.scheme = "https"
	}
	q := cfg.Queue
	n.queue.Store(&q)
	n.client = newPayloadClient(cfg.PayloadClientTLS, cfg.DeliveryTimeout)
	return n, nil
}

// insecureSecret keys the payload HMAC when no secret is configured. It is
// public, so it authenticates nothing; it only keeps one code path.
const insecureSecret = "edgews insecure loopback cluster"

// Start binds the payload listener and serf, begins answering queries and
// receiving batches, and starts joining Config.Join in the background.
// ctx bounds the start itself, not the node's lifetime.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.state != stateNew {
		n.mu.Unlock()
		return fmt.Errorf("gossip: Start called twice or after close: %w", ErrClosed)
	}
	n.state = stateStarting
	n.mu.Unlock()

	if err := n.start(ctx); err != nil {
		n.Shutdown()
		return err
	}
	n.mu.Lock()
	if n.state == stateStarting {
		n.state = stateRunning
	}
	n.mu.Unlock()
	return nil
}

func (n *Node) start(ctx context.Context) error {
	internalBind := n.cfg.InternalBindAddr
	if internalBind == "" {
		host, _, _ := net.SplitHostPort(n.cfg.BindAddr)
		internalBind = net.JoinHostPort(host, "0")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", internalBind)
	if err != nil {
		return fmt.Errorf("gossip: listen on InternalBindAddr %s: %w", internalBind, err)
	}
	if n.cfg.PayloadTLS != nil {
		ln = tls.NewListener(ln, n.cfg.PayloadTLS)
	}
	n.srv = n.newPayloadServer()

	sc, internalAddr := n.serfConfig(ln.Addr().(*net.TCPAddr))
	n.mu.Lock()
	n.internalAddr = internalAddr
	n.mu.Unlock()
	n.wg.Add(1)
	go n.eventLoop()

	s, err := serf.Create(sc)
	if err != nil {
		ln.Close()
		return fmt.Errorf("gossip: start serf on %s: %w", n.cfg.BindAddr, err)
	}
	n.mu.Lock()
	n.serf = s
	n.mu.Unlock()
	n.wg.Add(1)
	go n.watchSerf(s)

	if internalAddr == "" {
		// The gossip host was chosen by memberlist; advertise the payload
		// path on the same host. Nobody else is in the cluster yet, so
		// the tag update does not wait for a broadcast.
		self := s.LocalMember()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		internalAddr = net.JoinHostPort(self.Addr.String(), port)
		tags := maps.Clone(self.Tags)
		tags[tagInternal] = internalAddr
		if err := s.SetTags(tags); err != nil {
			ln.Close()
			return fmt.Errorf("gossip: advertise internal address: %w", err)
		}
		n.mu.Lock()
		n.internalAddr = internalAddr
		n.mu.Unlock()
	}

	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("gossip: payload server stopped", slog.Any("error", err))
		}
	}()

	if len(n.cfg.Join) > 0 {
		n.wg.Add(1)
		go n.joinLoop()
	}
	n.log.Info("gossip: started",
		slog.String("bind", n.cfg.BindAddr),
		slog.String("internal", internalAddr),
		slog.Bool("encrypted", n.cfg.EncryptKey != ""))
	return nil
}

// serfConfig builds serf's configuration and the payload path's advertised
// address; that is "" if its host must be taken from memberlist after start.
func (n *Node) serfConfig(internal *net.TCPAddr) (*serf.Config, string) {
	c := &n.cfg
	sc := serf.DefaultConfig()
	sc.NodeName = c.NodeName
	sc.EventCh = n.events
	sc.Logger = newSerfLogger(n.log)
	sc.LogOutput = nil
	sc.DisableCoordinates = true // edgews does not use RTT estimates
	sc.EnableNameConflictResolution = true
	sc.QueryBuffer = 4096
	sc.QuerySizeLimit = serfQuerySizeLimit
	sc.ReconnectInterval = c.Timing.ReconnectInterval
	sc.ReconnectTimeout = c.Timing.ReconnectTimeout
	sc.TombstoneTimeout = c.Timing.TombstoneTimeout
	sc.BroadcastTimeout = c.Timing.BroadcastTimeout
	sc.LeavePropagateDelay = c.Timing.LeavePropagateDelay

	mc := sc.MemberlistConfig
	mc.Name = c.NodeName
	mc.Logger = sc.Logger
	bind, _ := parseHostPort(c.BindAddr)
	mc.BindAddr = bind.Addr().String()
	mc.BindPort = int(bind.Port())
	mc.AdvertisePort = mc.BindPort
	advertiseHost := ""
	if c.AdvertiseAddr != "" {
		adv, _ := parseHostPort(c.AdvertiseAddr)
		mc.AdvertiseAddr = adv.Addr().String()
		mc.AdvertisePort = int(adv.Port())
		advertiseHost = mc.AdvertiseAddr
	} else if !bind.Addr().IsUnspecified() {
		advertiseHost = mc.BindAddr
	}
	if len(n.clusterKey) > 0 {
		mc.SecretKey = n.clusterKey
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	t := c.Timing
	mc.GossipInterval = t.GossipInterval
	mc.GossipNodes = t.GossipNodes
	mc.ProbeInterval = t.ProbeInterval
	mc.ProbeTimeout = t.ProbeTimeout
	mc.SuspicionMult = t.SuspicionMult
	mc.SuspicionMaxTimeoutMult = t.SuspicionMaxTimeoutMult
	mc.RetransmitMult = t.RetransmitMult
	mc.PushPullInterval = t.PushPullInterval
	mc.TCPTimeout = t.TCPTimeout
	mc.DeadNodeReclaimTime = t.DeadNodeReclaimTime

	var internalAddr string
	switch {
	case c.InternalAdvertiseAddr != "":
		internalAddr = c.InternalAdvertiseAddr
	case !internal.IP.IsUnspecified():
		internalAddr = internal.String()
	case advertiseHost != "":
		internalAddr = net.JoinHostPort(advertiseHost, strconv.Itoa(internal.Port))
	}

	tags := maps.Clone(c.Tags)
	if tags == nil {
		tags = make(map[string]string, 5)
	}
	tags[tagVersion] = c.Version
	tags[tagProto] = protoVersion
	tags[tagBoot] = strconv.FormatUint(n.boot, 16)
	tags[tagInternal] = internalAddr
	if n.scheme != "http" {
		tags[tagScheme] = n.scheme
	}
	sc.Tags = tags
	return sc, internalAddr
}

// joinLoop joins Config.Join, retrying with exponential backoff.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	wait := n.cfg.JoinRetryInterval
	for attempt := 1; ; attempt++ {
		k, err := n.join(n.cfg.Join)
		if err == nil {
			n.log.Info("gossip: joined cluster", slog.Int("contacted", k), slog.Int("attempt", attempt))
			return
		}
		if n.cfg.JoinMaxAttempts > 0 && attempt >= n.cfg.JoinMaxAttempts {
			n.log.Error("gossip: giving up joining", slog.Int("attempts", attempt), slog.Any("error", err))
			return
		}
		n.warnLimited("join", "gossip: join failed, retrying", slog.Duration("in", wait), slog.Any("error", err))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.done:
			t.Stop()
			return
		}
		wait = min(2*wait, n.cfg.JoinRetryMaxInterval)
	}
}

// Join contacts the given gossip addresses (host:port) and joins their
// cluster. It returns how many answered; an error wrapping ErrJoin if none
// did. Start already joins Config.Join in the background; Join is for
// operators and tests.
func (n *Node) Join(ctx context.Context, addrs ...string) (int, error) {
	if err := n.usable(); err != nil {
		return 0, err
	}
	type result struct {
		k   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		k, err := n.join(addrs)
		ch <- result{k, err}
	}()
	select {
	case r := <-ch:
		return r.k, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (n *Node) join(addrs []string) (int, error) {
	n.m.joinAttempts.Add(1)
	k, err := n.serf.Join(addrs, true)
	if k > 0 {
		return k, nil
	}
	n.m.joinFailures.Add(1)
	if err == nil {
		err = errors.New("no address answered")
	}
	return 0, fmt.Errorf("%w: %v: %w", ErrJoin, addrs, err)
}

// usable reports whether cluster operations may run.
func (n *Node) usable() error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	switch n.state {
	case stateRunning:
		return nil
	case stateNew, stateStarting:
		return ErrNotStarted
	default:
		return ErrClosed
	}
}

// Name returns this node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// InternalAddr returns the payload path address advertised to members
// (empty before Start).
func (n *Node) InternalAddr() string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.internalAddr
}

// GossipAddr returns the address other members reach this node's gossip at,
// for use in Join (empty before Start).
func (n *Node) GossipAddr() string {
	n.mu.RLock()
	s := n.serf
	n.mu.RUnlock()
	if s == nil {
		return ""
	}
	self := s.LocalMember()
	return net.JoinHostPort(self.Addr.String(), strconv.Itoa(int(self.Port)))
}

// Metrics returns a snapshot of the node's counters and queues.
func (n *Node) Metrics() Metrics {
	m := n.m.snapshot()
	for _, p := range n.peerList() {
		m.Peers = append(m.Peers, p.metrics())
	}
	sort.Slice(m.Peers, func(i, j int) bool { return m.Peers[i].Name < m.Peers[j].Name })
	return m
}

// Done returns a channel that is closed when the node stops: after Leave or
// Shutdown, or on its own when serf stops underneath it (serf shuts itself
// down when it loses a node name conflict, that is when another live member
// uses the same NodeName). The server should watch it and treat a close it
// did not ask for as fatal.
func (n *Node) Done() <-chan struct{} { return n.done }

// watchSerf shuts the node down if serf stops without Shutdown asking it
// to, so that the node does not carry on as a member of no cluster.
func (n *Node) watchSerf(s *serf.Serf) {
	defer n.wg.Done()
	select {
	case <-s.ShutdownCh():
	case <-n.done:
		return
	}
	n.mu.RLock()
	st := n.state
	n.mu.RUnlock()
	if st == stateClosed {
		return
	}
	n.log.Error("gossip: serf stopped on its own (lost a node name conflict?); shutting the node down")
	go n.Shutdown() // Shutdown waits for this goroutine
}

// Leave leaves the cluster gracefully and then shuts the node down: it stops
// accepting sends, gives the remote queues until ctx is done to flush (they
// send at once, ignoring Delay), broadcasts the leave so members stop
// counting this node at once instead of detecting a failure, and stops. The
// server drains its own sockets before calling Leave.
func (n *Node) Leave(ctx context.Context) error {
	n.mu.Lock()
	if n.state != stateRunning {
		st := n.state
		n.mu.Unlock()
		if st == stateClosed || st == stateLeaving {
			return nil
		}
		n.Shutdown()
		return nil
	}
	n.state = stateLeaving
	n.mu.Unlock()
	peers := n.peerList()

	var errs []error
	if err := n.flush(ctx, peers); err != nil {
		errs = append(errs, err)
	}
	done := make(chan error, 1)
	go func() { done <- n.serf.Leave() }()
	select {
	case err := <-done:
		if err != nil {
			errs = append(errs, fmt.Errorf("gossip: leave: %w", err))
		}
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("gossip: leave: %w", ctx.Err()))
	}
	n.Shutdown()
	return errors.Join(errs...)
}

// flush makes every queue send what it holds and waits until they are
// empty or ctx is done.
func (n *Node) flush(ctx context.Context, peers []*peer) error {
	for _, p := range peers {
		p.flushNow()
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := 0
		for _, p := range peers {
			pending += p.pending()
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("gossip: %d messages still queued at leave: %w", pending, ctx.Err())
		}
	}
}

// Shutdown stops the node at once, without telling the cluster: members
// detect the failure (see Timing.FailureDetectionBound). Queued messages
// are dropped and counted. When it returns, gossip no longer calls Local:
// the contexts of calls in progress are cancelled and Shutdown waits for
// them to return. Safe to call more than once.
func (n *Node) Shutdown() {
	n.stopOnce.Do(func() {
		n.mu.Lock()
		n.state = stateClosed
		s := n.serf
		peers := n.peers
		n.peers = make(map[string]*peer)
		for _, p := range peers {
			if p.grace != nil {
				p.grace.Stop()
			}
		}
		n.mu.Unlock()
		n.stopLife()

		for _, p := range peers {
			p.close(dropShutdown)
		}
		if s != nil {
			if err := s.Shutdown(); err != nil {
				n.log.Warn("gossip: serf shutdown", slog.Any("error", err))
			}
		}
		close(n.done)
		if n.srv != nil {
			n.srv.Close()
		}
		n.handlers.Wait()
		n.wg.Wait()
		n.client.CloseIdleConnections()
		n.notifyChange()
		n.log.Info("gossip: stopped")
	})
}
