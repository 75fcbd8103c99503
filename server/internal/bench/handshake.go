package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// handshakeCase is one measured server: a target and, for edgews, a
// session verifier.
type handshakeCase struct {
	target, verifier string
	p                *process
	backend          *sessionBackend
	sessions         []string
}

// handshakeCases starts every case's server and gets its workers'
// sessions. The http verifier's backends are added to cleanup.
func (r *runner) handshakeCases(ctx context.Context, workers []string, cleanup *[]func()) ([]*handshakeCase, error) {
	var cases []*handshakeCase
	for _, target := range r.opts.Targets {
		if target == targetReference {
			p, err := r.startTarget(ctx, target)
			if err != nil {
				return nil, err
			}
			s, _ := r.sessions(ctx, p, target, workers)
			cases = append(cases, &handshakeCase{target: target, p: p, sessions: s})
			continue
		}
		for _, v := range r.opts.Verifiers {
			c := &handshakeCase{target: target, verifier: v}
			switch v {
			case "dev":
				p, err := r.startTarget(ctx, target)
				if err != nil {
					return nil, err
				}
				if c.sessions, err = r.sessions(ctx, p, target, workers); err != nil {
					return nil, err
				}
				c.p = p
			case "http":
				b, err := startSessionBackend()
				if err != nil {
					return nil, err
				}
				*cleanup = append(*cleanup, b.close)
				r.log.Info("starting target", "target", "edgews (http verifier)")
				if c.p, err = r.startEdgews(ctx, "edgews-http", edgewsConfig{verifier: "http", httpURL: b.url}); err != nil {
					return nil, err
				}
				c.backend = b
				for _, u := range workers {
					c.sessions = append(c.sessions, "s-"+u)
				}
			}
			cases = append(cases, c)
		}
	}
	return cases, nil
}

// handshake: W workers, each in a loop: connect (from the next source
// address), upgrade, close handshake (send close 1000, wait for the
// server's close frame), close the TCP connection. Measured against edgews
// with the dev verifier, edgews with the http verifier (a session backend
// in this process; every worker's session is verified once before the
// measurement so the verifier's cache is warm), and the reference.
func (r *runner) handshake(ctx context.Context) error {
	o := r.opts
	workers := userNames("h", o.Workers)
	var cleanup []func()
	defer func() {
		for _, f := range cleanup {
			f()
		}
	}()
	cases, err := r.handshakeCases(ctx, workers, &cleanup)
	if err != nil {
		return err
	}
	for _, route := range o.Routes {
		accs := make([]*handshakeAcc, len(cases))
		for i, c := range cases {
			accs[i] = &handshakeAcc{}
			if err := r.handshakeWarm(ctx, c.p, c.target, route, workers, c.sessions); err != nil {
				return err
			}
		}
		slice := o.Duration / time.Duration(o.Slices)
		for s := range o.Slices {
			for i, c := range cases {
				r.log.Info("handshake", "target", c.target, "verifier", c.verifier, "route", route, "slice", s+1)
				r.handshakeSlice(ctx, c.p, c.target, route, workers, c.sessions, c.backend, slice, accs[i])
				if err := c.p.alive(); err != nil {
					return err
				}
			}
		}
		for i, c := range cases {
			a := accs[i]
			res := Result{Target: c.target, Route: route, Case: verifierCase(c.verifier)}
			res.Metrics = []Metric{
				{"workers", float64(len(workers)), ""},
				{"upgrades_per_s", rate(a.count, a.elapsed), "/s"},
				{"p50", ms(a.h.quantile(0.5)), "ms"},
				{"p99", ms(a.h.quantile(0.99)), "ms"},
				{"server_cpu", perOp(a.cpu.server, a.count), "µs/op"},
			}
			if c.backend != nil {
				res.Metrics = append(res.Metrics, Metric{"backend_calls", float64(a.backendCalls), ""})
			}
			res.Errors, res.FirstError = a.errs.n, a.errs.firstString()
			r.report.add(res)
		}
		for _, v := range o.Verifiers {
			cas := verifierCase(v)
			r.report.compare(targetEdgews, targetReference, match(targetEdgews, route, cas), match(targetReference, route, ""), route, cas, "upgrades_per_s", "p50", "p99", "server_cpu")
		}
	}
	r.report.note("an upgrade is counted when its close handshake completed; p50/p99 are connect-to-101 times in ms; backend_calls counts session checks the http verifier made during the measurement (0: the cache was warm); server_cpu is the target's CPU time per upgrade")
	return nil
}

func verifierCase(v string) string {
	if v == "" {
		return ""
	}
	return "verifier=" + v
}

// handshakeAcc sums a case's slices.
type handshakeAcc struct {
	h            hist
	count        int64
	elapsed      time.Duration
	backendCalls int64
	errs         errCount
	cpu          cpuMeter
}

// handshakeOnce connects, upgrades and closes once; it returns the
// connect-to-101 time.
func (r *runner) handshakeOnce(ctx context.Context, p *process, url string) (time.Duration, error) {
	t0 := time.Now()
	c, err := r.dialer.dial(ctx, p.listen)
	if err != nil {
		return 0, err
	}
	c.SetDeadline(t0.Add(10 * time.Second))
	w, err := upgrade(c, p.listen, url, 512)
	if err != nil {
		c.Close()
		return 0, err
	}
	d := time.Since(t0)
	return d, w.closeHandshake(5 * time.Second)
}

// handshakeURL is worker i's upgrade URL: no Engine.IO handshake, the
// measurement is upgrade and close.
func handshakeURL(route, target, session, user string) string {
	return routeProto(route, target).urlFor(route, session, user)
}

// handshakeWarm does one upgrade per worker: it fills the http
// verifier's cache and checks that the sessions work.
func (r *runner) handshakeWarm(ctx context.Context, p *process, target, route string, workers, sessions []string) error {
	warm := parallel(ctx, len(workers), len(workers), func(i int) error {
		_, err := r.handshakeOnce(ctx, p, handshakeURL(route, target, sessions[i], workers[i]))
		return err
	})
	if warm.n > 0 {
		return fmt.Errorf("bench: handshake warm-up on %s: %d of %d failed, first: %w", target, warm.n, len(workers), warm.first)
	}
	return nil
}

// handshakeSlice runs every worker's loop for d.
func (r *runner) handshakeSlice(ctx context.Context, p *process, target, route string, workers, sessions []string, backend *sessionBackend, d time.Duration, acc *handshakeAcc) {
	var calls0 int64
	if backend != nil {
		calls0 = backend.calls.Load()
	}
	acc.cpu.start(p.pid())
	defer acc.cpu.stop()
	start := time.Now()
	end := start.Add(d)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := handshakeURL(route, target, sessions[i], workers[i])
			var h hist
			var n int64
			for limit := 0; limit < 10_000_000 && time.Now().Before(end) && ctx.Err() == nil; limit++ {
				d, err := r.handshakeOnce(ctx, p, url)
				if err != nil {
					acc.errs.add(err)
					time.Sleep(time.Millisecond) // do not spin on a refusing target
					continue
				}
				h.record(d)
				n++
			}
			mu.Lock()
			acc.h.merge(&h)
			acc.count += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	acc.elapsed += time.Since(start)
	if backend != nil {
		acc.backendCalls += backend.calls.Load() - calls0
	}
}
