package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Modes the bench runs.
const (
	ModeIdle      = "idle"
	ModeEcho      = "echo"
	ModeFanout    = "fanout"
	ModeHandshake = "handshake"
	ModeCluster   = "cluster"
)

// Modes lists every mode, in the order `edgews bench` documents them.
var Modes = []string{ModeIdle, ModeEcho, ModeFanout, ModeHandshake, ModeCluster}

// ErrOptions is an invalid option; the message names it.
var ErrOptions = errors.New("bench: invalid option")

// Options configure a run. Start from DefaultOptions(mode); the fields a
// mode does not use are ignored. Every loop the bench runs is bounded by a
// count and by a time limit derived from these.
type Options struct {
	Mode string
	// Targets are "edgews" and/or "reference", measured one after the
	// other in the same run.
	Targets []string
	// Routes are edgews routes (/echo, /echo-identity, /socket.io). The
	// first is the baseline the others are compared with.
	Routes []string

	// Count is the number of idle sockets (idle) or users (fanout).
	Count int
	// Conns lists connection counts (echo): one measurement each.
	Conns []int
	// InFlight is messages in flight per connection (echo).
	InFlight int
	// Size is the payload size in bytes (idle, echo, fanout; at least 16).
	Size int
	// Sizes lists payload sizes (cluster).
	Sizes []int
	// Delays lists cluster.remote.delay values (cluster); a negative value
	// means the default.
	Delays []time.Duration

	// Duration is how long each measurement runs (echo, handshake,
	// cluster phases) or bounds all rounds (fanout).
	Duration time.Duration
	// Warmup runs before each echo measurement and is not counted.
	Warmup time.Duration
	// Slices splits each echo and handshake measurement into this many
	// parts, the targets taking turns, so a change in the load of a shared
	// machine affects every target alike.
	Slices int
	// Rounds is the number of bulk sends to every user (fanout).
	Rounds int
	// WarmupRounds run before the counted rounds and are not counted
	// (fanout): the first rounds pay for heap growth, stack growth of the
	// bench's readers and TCP buffer tuning, on either target.
	WarmupRounds int
	// Batch is the number of send requests per bulk request (fanout).
	Batch int
	// Senders is the number of parallel admin API callers (fanout,
	// cluster throughput).
	Senders int
	// Workers is the number of handshake workers.
	Workers int
	// Verifiers for handshake: dev and/or http.
	Verifiers []string
	// ExistsCount bounds each exists measurement (cluster).
	ExistsCount int
	// Settle is how long idle samples RSS before taking the last sample.
	Settle time.Duration
	// Sources is the number of client source addresses, 127.0.0.2 on.
	Sources int
	// ConnectConcurrency bounds parallel connection set-up.
	ConnectConcurrency int

	// Edgews starts edgews: the bench appends "serve --config FILE ...".
	Edgews Command
	// Reference starts the reference server: the bench appends
	// "--listen ADDR --admin-listen ADDR".
	Reference Command
	// CommandLine is recorded in the report.
	CommandLine string
	// Log receives progress lines (Info) and details (Debug).
	Log *slog.Logger
	// TargetLog, if set, receives everything the target processes write
	// (their logs), to find out why a target refused or closed sockets.
	TargetLog io.Writer
}

// DefaultOptions are the documented defaults of a mode.
func DefaultOptions(mode string) Options {
	o := Options{
		Mode:               mode,
		Targets:            []string{targetEdgews, targetReference},
		Routes:             []string{"/echo"},
		Count:              19000,
		Conns:              []int{100, 1000},
		InFlight:           16,
		Size:               64,
		Sizes:              []int{100, 64 << 10},
		Delays:             []time.Duration{0, -1},
		Duration:           5 * time.Second,
		Warmup:             time.Second,
		Slices:             3,
		Rounds:             20,
		WarmupRounds:       3,
		Batch:              1000,
		Senders:            4,
		Workers:            32,
		Verifiers:          []string{"dev", "http"},
		ExistsCount:        500,
		Settle:             3 * time.Second,
		Sources:            32,
		ConnectConcurrency: 64,
	}
	switch mode {
	case ModeFanout:
		o.Duration = 60 * time.Second
	case ModeCluster:
		o.Duration = 3 * time.Second
		o.Senders = 16
	}
	return o
}

func (o *Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrOptions, fmt.Sprintf(format, args...))
	}
	valid := false
	for _, m := range Modes {
		valid = valid || o.Mode == m
	}
	if !valid {
		return bad("mode %q is not one of %v", o.Mode, Modes)
	}
	if len(o.Targets) == 0 {
		return bad("--target: none given")
	}
	for _, t := range o.Targets {
		if t != targetEdgews && t != targetReference {
			return bad("--target %q is not edgews, reference or both", t)
		}
	}
	if len(o.Routes) == 0 {
		return bad("--route: none given")
	}
	for i, r := range o.Routes {
		k, err := knownRoute(r)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrOptions, err)
		}
		o.Routes[i] = k
	}
	switch {
	case o.Count < 1:
		return bad("--count must be at least 1")
	case o.Count > 19000 && (o.Mode == ModeIdle || o.Mode == ModeFanout):
		return bad("--count %d: the open-file limit (20,000 per process) allows at most 19,000", o.Count)
	case o.Size < stampLen:
		return bad("--size must be at least %d (the send timestamp)", stampLen)
	case o.InFlight < 1, o.Workers < 1, o.Senders < 1, o.Batch < 1, o.Rounds < 1, o.WarmupRounds < 0, o.ExistsCount < 1, o.Slices < 1:
		return bad("--inflight, --workers, --senders, --batch, --rounds, --exists-count and --slices must be at least 1")
	case o.Duration <= 0:
		return bad("--duration must be positive")
	case o.Sources < 1 || o.Sources > 250:
		return bad("--sources must be 1 to 250")
	case o.ConnectConcurrency < 1:
		return bad("--connect-concurrency must be at least 1")
	}
	for _, c := range o.Conns {
		if c < 1 || o.Mode == ModeEcho && c*len(o.Routes)*len(o.Targets) > 19000 {
			return bad("--conns %d: at least 1, and conns x routes x targets at most 19,000 (the open-file limit is 20,000 per process)", c)
		}
	}
	for _, s := range o.Sizes {
		if s < stampLen || s > 1<<20-1024 {
			return bad("--sizes %d: %d bytes to 1 MiB minus 1 KiB", s, stampLen)
		}
	}
	for _, v := range o.Verifiers {
		if v != "dev" && v != "http" {
			return bad("--verifier %q is not dev or http", v)
		}
	}
	if o.Edgews.Path == "" && (o.Mode == ModeCluster || contains(o.Targets, targetEdgews)) {
		return bad("no edgews executable")
	}
	if o.Reference.Path == "" && o.Mode != ModeCluster && contains(o.Targets, targetReference) {
		return bad("no reference server executable")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// runner holds what one run shares: the temp dir for configs, the started
// processes, the HTTP client, the dialer and the report being filled.
type runner struct {
	opts   Options
	log    *slog.Logger
	dir    string
	procs  []*process
	http   *http.Client
	dialer *dialer
	clock  clock
	report *Report
}

// Run runs one mode and returns its report. Targets it started are
// stopped before it returns.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if _, err := raiseNofile(); err != nil {
		o.Log.Warn("cannot raise the open-file limit", "error", err)
	}
	dir, err := os.MkdirTemp("", "edgews-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r := &runner{
		opts:   o,
		log:    o.Log,
		dir:    dir,
		http:   newHTTPClient(),
		dialer: newDialer(o.Sources),
		clock:  newClock(),
		report: newReport(o),
	}
	defer func() {
		for _, p := range r.procs {
			p.stop()
		}
		r.http.CloseIdleConnections()
		os.RemoveAll(dir)
	}()
	switch o.Mode {
	case ModeIdle:
		err = r.idle(ctx)
	case ModeEcho:
		err = r.echo(ctx)
	case ModeFanout:
		err = r.fanout(ctx)
	case ModeHandshake:
		err = r.handshake(ctx)
	case ModeCluster:
		err = r.cluster(ctx)
	}
	r.report.finish()
	return r.report, err
}

// startTarget starts edgews (dev mode) or the reference server.
func (r *runner) startTarget(ctx context.Context, target string) (*process, error) {
	r.log.Info("starting target", "target", target)
	if target == targetReference {
		return r.startReference(ctx)
	}
	return r.startEdgews(ctx, targetEdgews, edgewsConfig{verifier: "dev"})
}

// stopProcess stops p and forgets it.
func (r *runner) stopProcess(p *process) {
	p.stop()
	for i, q := range r.procs {
		if q == p {
			r.procs = append(r.procs[:i], r.procs[i+1:]...)
			break
		}
	}
}

// dialer spreads client connections over source addresses 127.0.0.2 to
// 127.0.0.(1+n): each source address has its own ephemeral ports.
type dialer struct {
	sources []net.Dialer
	next    atomic.Uint32
}

func newDialer(n int) *dialer {
	d := &dialer{}
	for i := range n {
		ip := net.IPv4(127, 0, 0, byte(2+i))
		d.sources = append(d.sources, net.Dialer{
			LocalAddr: &net.TCPAddr{IP: ip},
			Timeout:   10 * time.Second,
			Control:   bindNoPort,
		})
	}
	return d
}

func (d *dialer) dial(ctx context.Context, addr string) (net.Conn, error) {
	nd := &d.sources[int(d.next.Add(1))%len(d.sources)]
	return nd.DialContext(ctx, "tcp4", addr)
}

// connect dials addr, upgrades on target and runs the protocol's opening.
func (r *runner) connect(ctx context.Context, addr, url string, p proto, readBuf int) (*wsConn, error) {
	c, err := r.dialer.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	w, err := upgrade(c, addr, url, readBuf)
	if err == nil {
		err = p.open(w)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return w, nil
}

// errCount is the outcome of many operations: how many failed and the
// first failure.
type errCount struct {
	mu    sync.Mutex
	n     int64
	first error
}

func (e *errCount) add(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	e.n++
	if e.first == nil {
		e.first = err
	}
	e.mu.Unlock()
}

func (e *errCount) firstString() string {
	if e.first == nil {
		return ""
	}
	return e.first.Error()
}

// parallel runs fn(0..n-1) on at most workers goroutines and stops
// handing out work when ctx is done.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) *errCount {
	errs := &errCount{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if ctx.Err() != nil {
					errs.add(ctx.Err())
					return
				}
				errs.add(fn(i))
			}
		}()
	}
	wg.Wait()
	return errs
}

// userNames returns u0..u(n-1) with a prefix.
func userNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// closeAll closes connections in parallel and drops them.
func closeAll(conns []*wsConn) {
	var wg sync.WaitGroup
	for chunk := range chunks(len(conns), 16) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range conns[chunk[0]:chunk[1]] {
				if c != nil {
					c.c.Close()
				}
			}
		}()
	}
	wg.Wait()
}

// chunks splits [0, n) into k nearly equal [lo, hi) ranges.
func chunks(n, k int) func(func([2]int) bool) {
	return func(yield func([2]int) bool) {
		k = max(min(k, n), 1)
		for i := range k {
			lo, hi := i*n/k, (i+1)*n/k
			if hi > lo && !yield([2]int{lo, hi}) {
				return
			}
		}
	}
}

var _ io.Writer = (*tailBuffer)(nil)
