package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// fanout: N users with one socket each; every round sends one message to
// every user through the admin API's bulk send (chunks of Batch requests,
// Senders chunks at a time), each chunk stamped just before it is posted,
// and waits until every socket has its message. deliveries/s is the
// messages received divided by the time from each round's first post to
// its last receipt, summed over the rounds; the latency is post-to-receipt.
//
// The rounds are split into Slices, the targets taking turns (edgews,
// reference, edgews, ...), each slice on a fresh process with freshly
// opened sockets after WarmupRounds uncounted rounds, so a change in the
// load of a shared machine affects every target alike. Both targets'
// sockets cannot be open at once: the bench holds one end of each, and
// 2 x 19,000 is over the open-file limit of these machines.
func (r *runner) fanout(ctx context.Context) error {
	o := r.opts
	slices := max(1, min(o.Slices, o.Rounds))
	for _, route := range o.Routes {
		accs := make(map[string]*fanoutAcc, len(o.Targets))
		for _, target := range o.Targets {
			accs[target] = &fanoutAcc{h: &hist{}}
		}
		for sl := range slices {
			rounds := o.Rounds / slices
			if sl < o.Rounds%slices {
				rounds++
			}
			for _, target := range o.Targets {
				if err := r.fanoutOne(ctx, target, route, rounds, o.Duration/time.Duration(slices), accs[target]); err != nil {
					return err
				}
			}
		}
		for _, target := range o.Targets {
			r.report.add(accs[target].result(target, route, o.Count))
			if accs[target].usedSingle {
				r.report.note("%s: POST /api/v1/send/bulk answered 404; the round used one POST /api/v1/send per user (%d in parallel)", target, 4*o.Senders)
			}
		}
		r.report.compare(targetEdgews, targetReference, match(targetEdgews, route, ""), match(targetReference, route, ""), route, "", "deliveries_per_s", "p50", "p99", "server_cpu")
	}
	for _, route := range o.Routes[1:] {
		r.report.compare(targetEdgews+" "+route, targetEdgews+" "+o.Routes[0], match(targetEdgews, route, ""), match(targetEdgews, o.Routes[0], ""), "", "", "deliveries_per_s", "p50", "p99")
	}
	r.report.note("latencies in ms from posting a chunk to the socket's receipt; the reference serves the same bulk body, writing each message directly under the connection's write lock; server_cpu and client_cpu are CPU time per delivery of the target and of the bench process (which builds the bulk bodies and reads every socket); %d slices per target, taking turns, each after %d uncounted rounds", slices, o.WarmupRounds)
	return nil
}

// fanoutAcc sums one target's slices.
type fanoutAcc struct {
	h                *hist
	delivered, lost  int64
	active, postTime time.Duration // first-post-to-last-receipt, posting, summed per round
	rounds           int
	server, self     time.Duration // CPU time
	errs             int64
	firstErr         string
	usedSingle       bool
}

func (a *fanoutAcc) result(target, route string, users int) Result {
	return Result{
		Target: target, Route: route,
		Metrics: []Metric{
			{"users", float64(users), ""},
			{"rounds", float64(a.rounds), ""},
			{"deliveries_per_s", rate(a.delivered, a.active), "/s"},
			{"post_ms", ms(a.postTime / time.Duration(max(a.rounds, 1))), "ms"},
			{"p50", ms(a.h.quantile(0.5)), "ms"},
			{"p99", ms(a.h.quantile(0.99)), "ms"},
			{"max", ms(time.Duration(a.h.max)), "ms"},
			{"lost", float64(a.lost), ""},
			{"server_cpu", perOp(a.server, a.delivered), "µs/msg"},
			{"client_cpu", perOp(a.self, a.delivered), "µs/msg"},
		},
		Errors:     a.errs,
		FirstError: a.firstErr,
	}
}

// fanoutCollector gathers receipts from every socket's reader.
type fanoutCollector struct {
	h        atomicHist
	warming  atomic.Bool // receipts of warm-up rounds stay out of h
	received atomic.Int64
	last     atomic.Int64 // clock time of the latest receipt
	errs     errCount
	stopping atomic.Bool
}

func (c *fanoutCollector) receipt(now, sent time.Duration) {
	if !c.warming.Load() {
		c.h.record(now - sent)
	}
	c.received.Add(1)
	for {
		l := c.last.Load()
		if int64(now) <= l || c.last.CompareAndSwap(l, int64(now)) {
			return
		}
	}
}

// fanoutOne runs rounds counted rounds (after the warm-up) on a fresh
// target process, within budget, and adds them to acc.
func (r *runner) fanoutOne(ctx context.Context, target, route string, rounds int, budget time.Duration, acc *fanoutAcc) error {
	o := r.opts
	p, err := r.startTarget(ctx, target)
	if err != nil {
		return err
	}
	defer r.stopProcess(p)
	pr := routeProto(route, target)
	users := userNames("u", o.Count)
	sess, err := r.sessions(ctx, p, target, users)
	if err != nil {
		return err
	}
	r.log.Info("opening sockets", "target", target, "route", route, "sockets", o.Count)
	conns := make([]*wsConn, o.Count)
	errs := parallel(ctx, o.Count, o.ConnectConcurrency, func(i int) error {
		w, err := r.connect(ctx, p.listen, pr.urlFor(route, sess[i], users[i]), pr, 512)
		conns[i] = w
		return err
	})
	if errs.n > 0 {
		closeAll(conns)
		return fmt.Errorf("bench: fanout: %d of %d connections failed, first: %w", errs.n, o.Count, errs.first)
	}
	// A client's upgrade completes before the server has registered the
	// socket for its user (the reference registers it in the handler that
	// runs after the 101 response): wait until the server holds them all,
	// or the first round's sends can miss a socket.
	if err := r.waitSockets(ctx, p, int64(o.Count), 10*time.Second); err != nil {
		closeAll(conns)
		return err
	}
	col := &fanoutCollector{}
	var readers sync.WaitGroup
	for _, w := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r.fanoutReader(w, pr, col)
		}()
	}
	defer func() {
		col.stopping.Store(true)
		closeAll(conns)
		readers.Wait()
	}()

	// What the sockets receive: edgews's socketio transcoder turns a plain
	// text into 42["message","<text>"]; the reference gets that frame
	// ready-made, so the bytes on the wire are the same.
	message := func(t time.Duration) []byte {
		if pr.sio && !pr.handshake {
			m := append([]byte(`42["message","`), appendStamped(nil, t, o.Size)...)
			return append(m, `"]`...)
		}
		return appendStamped(nil, t, o.Size)
	}
	deadline := time.Now().Add(budget)
	var cpu cpuMeter
	var (
		active     time.Duration // sum of first-post-to-last-receipt per round
		postTime   time.Duration
		delivered  int64
		counted    int
		sendErrs   errCount
		usedSingle bool
	)
	col.warming.Store(o.WarmupRounds > 0)
	for round := -o.WarmupRounds; round < rounds && time.Now().Before(deadline); round++ {
		if round == 0 {
			col.warming.Store(false)
			cpu.start(p.pid())
		}
		base := col.received.Load()
		first := r.clock.now()
		err := r.bulkRound(ctx, p, users, message, &sendErrs, &usedSingle)
		posted := r.clock.now()
		if err != nil {
			return err
		}
		// Wait for every socket's receipt, bounded.
		limit := time.Now().Add(max(10*time.Second, 2*(posted-first)))
		if hard := deadline.Add(10 * time.Second); hard.Before(limit) {
			limit = hard
		}
		for col.received.Load()-base < int64(o.Count) && time.Now().Before(limit) {
			time.Sleep(time.Millisecond)
		}
		got := col.received.Load() - base
		if round < 0 {
			if got < int64(o.Count) {
				sendErrs.add(fmt.Errorf("bench: fanout warm-up round: %d of %d delivered", got, o.Count))
			}
			r.log.Info("fanout warm-up round", "target", target, "round", round+o.WarmupRounds+1, "delivered", got)
			// Let the last receipts land before the next round's base.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		delivered += got
		if got > 0 {
			active += time.Duration(col.last.Load()) - first
		}
		postTime += posted - first
		counted++
		r.log.Info("fanout round", "target", target, "round", round+1, "delivered", got)
	}
	cpu.stop()
	// Each counted round waited (bounded) for its receipts; what did not
	// arrive in time counts as lost.
	acc.h.merge(col.h.snapshot())
	acc.delivered += delivered
	acc.lost += max(int64(counted*o.Count)-delivered, 0)
	acc.active += active
	acc.postTime += postTime
	acc.rounds += counted
	acc.server += cpu.server
	acc.self += cpu.self
	acc.usedSingle = acc.usedSingle || usedSingle
	acc.errs += sendErrs.n + col.errs.n + max(int64(counted*o.Count)-delivered, 0)
	if acc.firstErr == "" {
		acc.firstErr = sendErrs.firstString()
	}
	if acc.firstErr == "" {
		acc.firstErr = col.errs.firstString()
	}
	return p.alive()
}

// fanoutReader reads one socket until the run stops.
func (r *runner) fanoutReader(w *wsConn, pr proto, col *fanoutCollector) {
	for {
		_, m, err := w.readMessage()
		if err != nil {
			if !col.stopping.Load() {
				col.errs.add(err)
			}
			return
		}
		now := r.clock.now()
		t, control, err := pr.stamp(w, m)
		if err != nil {
			col.errs.add(err)
			continue
		}
		if !control {
			col.receipt(now, t)
		}
	}
}

// bulkRound posts one message to every user: chunks of Batch requests,
// Senders at a time. When the target has no bulk endpoint it falls back to
// single sends.
func (r *runner) bulkRound(ctx context.Context, p *process, users []string, message func(time.Duration) []byte, errs *errCount, usedSingle *bool) error {
	o := r.opts
	url := "http://" + p.admin + "/api/v1/send/bulk"
	nChunks := (len(users) + o.Batch - 1) / o.Batch
	var noBulk atomic.Bool
	perr := parallel(ctx, nChunks, o.Senders, func(ci int) error {
		if noBulk.Load() {
			return nil
		}
		lo, hi := ci*o.Batch, min((ci+1)*o.Batch, len(users))
		body := make([]byte, 0, (hi-lo)*(o.Size+64)+2)
		body = append(body, '[')
		msg := message(r.clock.now())
		for i := lo; i < hi; i++ {
			if i > lo {
				body = append(body, ',')
			}
			body = appendSendJSON(body, users[i], msg)
		}
		body = append(body, ']')
		var out bulkResponse
		status, err := r.post(ctx, url, body, 202, &out)
		if status == 404 {
			noBulk.Store(true)
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range out.Errors {
			errs.add(fmt.Errorf("%w: bulk entry %d: %s", errAdmin, lo+e.Index, e.Error))
		}
		if out.Accepted != hi-lo {
			errs.add(fmt.Errorf("%w: bulk accepted %d of %d", errAdmin, out.Accepted, hi-lo))
		}
		return nil
	})
	if perr.n > 0 {
		return perr.first
	}
	if !noBulk.Load() {
		return nil
	}
	*usedSingle = true
	single := "http://" + p.admin + "/api/v1/send"
	perr = parallel(ctx, len(users), 4*o.Senders, func(i int) error {
		body := appendSendJSON(nil, users[i], message(r.clock.now()))
		_, err := r.post(ctx, single, body, 202, nil)
		return err
	})
	if perr.n > 0 {
		return errors.Join(errNoBulk, perr.first)
	}
	return nil
}
