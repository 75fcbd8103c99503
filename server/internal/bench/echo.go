package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// echo: C connections, each keeping W messages in flight: it writes W
// stamped messages at once, and whenever replies arrive it reads every
// complete reply already buffered and writes as many new messages with one
// write (a closed loop, so the server sets the pace). Replies received in
// the measurement window after the warm-up count toward msgs/s and the
// latency histogram. The targets run side by side and every target and
// route is measured in turn, in slices, for each connection count.
func (r *runner) echo(ctx context.Context) error {
	o := r.opts
	procs := map[string]*process{}
	for _, target := range o.Targets {
		p, err := r.startTarget(ctx, target)
		if err != nil {
			return err
		}
		procs[target] = p
	}
	maxConns := 0
	for _, c := range o.Conns {
		maxConns = max(maxConns, c)
	}
	sessions := map[string][]string{}
	users := userNames("e", maxConns)
	for target, p := range procs {
		s, err := r.sessions(ctx, p, target, users)
		if err != nil {
			return err
		}
		sessions[target] = s
	}
	for _, conns := range o.Conns {
		if err := r.echoCase(ctx, procs, conns, users, sessions); err != nil {
			return err
		}
	}
	for _, route := range o.Routes {
		for _, c := range o.Conns {
			cas := connsCase(c)
			r.report.compare(targetEdgews, targetReference, match(targetEdgews, route, cas), match(targetReference, route, cas), route, cas, "msgs_per_s", "p50", "p99", "p999", "server_cpu")
		}
	}
	for _, route := range o.Routes[1:] {
		for _, c := range o.Conns {
			cas := connsCase(c)
			r.report.compare(targetEdgews+" "+route, targetEdgews+" "+o.Routes[0], match(targetEdgews, route, cas), match(targetEdgews, o.Routes[0], cas), "", cas, "msgs_per_s", "p50", "p99", "server_cpu")
		}
	}
	r.report.note("each connection keeps %d messages of %d bytes in flight; p50/p99/p999 are send-to-echo latencies in µs; ratios of latencies below 1 mean edgews is faster", o.InFlight, o.Size)
	r.report.note("server_cpu and client_cpu are the CPU time (user+system, /proc/PID/stat) of the target and of the bench process per echoed message, warm-up included: steadier than msgs/s on a shared machine")
	if contains(o.Routes, "/socket.io/*") {
		r.report.note("/socket.io: the client sends 42[\"echo\",\"<payload>\"] after the Engine.IO open and namespace connect; edgews's socketio transcoder delivers it as listener JSON, the echo route sends that back and the transcoder turns it into the same event; the reference echoes the same frames without a handshake")
	}
	return nil
}

func connsCase(c int) string { return "conns=" + strconv.Itoa(c) }

// echoStats sums a leg's measurements.
type echoStats struct {
	h     hist
	count int64 // replies in the measurement window
	all   int64 // every reply, warm-up and drain included
	errs  errCount
	cpu   cpuMeter
}

// echoLeg is one target on one route: its connections and its sums.
type echoLeg struct {
	target, route string
	conns         []*wsConn
	stats         echoStats
}

// echoCase measures one connection count on every route and target. All
// connections are opened first; then the measurement runs in Slices
// slices in which the legs take turns, so a change in the shared machine's
// load hits every target and route alike (the transcoder ratios compare
// routes, the reference ratios targets).
func (r *runner) echoCase(ctx context.Context, procs map[string]*process, conns int, users []string, sessions map[string][]string) error {
	o := r.opts
	readBuf := max(4096, o.InFlight*(o.Size+32))
	var legs []*echoLeg
	defer func() {
		for _, l := range legs {
			closeAll(l.conns)
		}
	}()
	for _, route := range o.Routes {
		for _, target := range o.Targets {
			p, pr := procs[target], routeProto(route, target)
			l := &echoLeg{target: target, route: route, conns: make([]*wsConn, conns)}
			legs = append(legs, l)
			errs := parallel(ctx, conns, o.ConnectConcurrency, func(i int) error {
				w, err := r.connect(ctx, p.listen, pr.urlFor(route, sessions[target][i], users[i]), pr, readBuf)
				l.conns[i] = w
				return err
			})
			if errs.n > 0 {
				return fmt.Errorf("bench: echo: %s %s: %d of %d connections failed, first: %w", target, route, errs.n, conns, errs.first)
			}
		}
	}
	slice := o.Duration / time.Duration(o.Slices)
	for s := range o.Slices {
		warmup := o.Warmup
		if s > 0 {
			warmup = min(o.Warmup, 200*time.Millisecond)
		}
		for _, l := range legs {
			r.log.Info("echo", "target", l.target, "route", l.route, "conns", conns, "slice", s+1)
			r.echoSlice(procs[l.target], l.conns, routeProto(l.route, l.target), warmup, slice, &l.stats)
			if err := procs[l.target].alive(); err != nil {
				return err
			}
		}
	}
	for _, l := range legs {
		t := &l.stats
		res := Result{Target: l.target, Route: l.route, Case: connsCase(conns)}
		res.Metrics = []Metric{
			{"conns", float64(conns), ""},
			{"msgs_per_s", rate(t.count, slice*time.Duration(o.Slices)), "/s"},
			{"p50", us(t.h.quantile(0.5)), "µs"},
			{"p99", us(t.h.quantile(0.99)), "µs"},
			{"p999", us(t.h.quantile(0.999)), "µs"},
			{"server_cpu", perOp(t.cpu.server, t.all), "µs/msg"},
			{"client_cpu", perOp(t.cpu.self, t.all), "µs/msg"},
		}
		res.Errors, res.FirstError = t.errs.n, t.errs.firstString()
		r.report.add(res)
	}
	return nil
}

// echoSlice runs every connection's echo loop once: warm-up, then the
// counted window, then the messages in flight are drained. A connection
// that fails is closed and left out of later slices.
func (r *runner) echoSlice(p *process, ws []*wsConn, pr proto, warmup, window time.Duration, total *echoStats) {
	total.cpu.start(p.pid())
	defer total.cpu.stop()
	start := r.clock.now() + 20*time.Millisecond
	from, until := start+warmup, start+warmup+window
	deadline := r.clock.epoch.Add(until + 10*time.Second)
	stats := make([]echoStats, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		if w == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.c.SetDeadline(deadline)
			time.Sleep(start - r.clock.now())
			if err := r.echoLoop(w, pr, from, until, &stats[i]); err != nil {
				stats[i].errs.add(err)
				w.c.Close()
				ws[i] = nil
			}
		}()
	}
	wg.Wait()
	for i := range stats {
		total.h.merge(&stats[i].h)
		total.count += stats[i].count
		total.all += stats[i].all
		total.errs.n += stats[i].errs.n
		if total.errs.first == nil {
			total.errs.first = stats[i].errs.first
		}
	}
}

var errEchoMismatch = errors.New("bench: echo did not match what was sent")

// echoLoop drives one connection until the window closes and every
// message in flight has come back.
func (r *runner) echoLoop(w *wsConn, pr proto, from, until time.Duration, st *echoStats) error {
	o := r.opts
	frames := make([]byte, 0, o.InFlight*(o.Size+32))
	var msg []byte
	batch := func(n int) error {
		frames = frames[:0]
		now := r.clock.now()
		for range n {
			msg = pr.appendMessage(msg[:0], now, o.Size)
			frames = w.appendFrame(frames, opText, msg)
		}
		_, err := w.c.Write(frames)
		return err
	}
	if err := batch(o.InFlight); err != nil {
		return err
	}
	pending := o.InFlight
	for pending > 0 {
		n := 0
		for {
			_, m, err := w.readMessage()
			if err != nil {
				return err
			}
			now := r.clock.now()
			t, control, err := pr.stamp(w, m)
			if err != nil {
				return err
			}
			if !control {
				if len(m) < o.Size {
					return fmt.Errorf("%w: %d bytes back, sent %d", errEchoMismatch, len(m), o.Size)
				}
				n++
				st.all++
				if now >= from && now < until {
					st.h.record(now - t)
					st.count++
				}
			}
			if n > 0 && !w.buffered() {
				break
			}
		}
		if r.clock.now() < until {
			if err := batch(n); err != nil {
				return err
			}
		} else {
			pending -= n
		}
	}
	return nil
}
