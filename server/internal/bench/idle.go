package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// idle: N authenticated sockets, one echo each, then the server's RSS
// growth per socket. A fresh target process per route, so memory freed by
// an earlier measurement cannot be reused by a later one.
func (r *runner) idle(ctx context.Context) error {
	o := r.opts
	for _, route := range o.Routes {
		for _, target := range o.Targets {
			res, err := r.idleOne(ctx, target, route)
			if err != nil {
				return err
			}
			r.report.add(res)
		}
	}
	for _, route := range o.Routes {
		r.report.compare(targetEdgews, targetReference, match(targetEdgews, route, ""), match(targetReference, route, ""), route, "", "per_socket")
	}
	for _, route := range o.Routes[1:] {
		r.report.compare(targetEdgews+" "+route, targetEdgews+" "+o.Routes[0], match(targetEdgews, route, ""), match(targetEdgews, o.Routes[0], ""), "", "", "per_socket")
	}
	r.report.note("per_socket is (VmRSS after - VmRSS before) / sockets of the server process, read from /proc/PID/status; 'before' is taken after the logins and a warm-up of %d sockets, 'after' is the last of samples taken over %s once every socket did its echo", warmSockets(o.Count), o.Settle)
	return nil
}

func warmSockets(n int) int { return min(n, 64) }

func (r *runner) idleOne(ctx context.Context, target, route string) (Result, error) {
	o := r.opts
	res := Result{Target: target, Route: route}
	p, err := r.startTarget(ctx, target)
	if err != nil {
		return res, err
	}
	defer r.stopProcess(p)
	pr := routeProto(route, target)

	users := userNames("u", o.Count)
	sess, err := r.sessions(ctx, p, target, append(users, "warm"))
	if err != nil {
		return res, err
	}
	// Warm-up: pools, instance caches and buffers the first sockets
	// allocate are not per-socket costs.
	warm := make([]*wsConn, warmSockets(o.Count))
	parallel(ctx, len(warm), o.ConnectConcurrency, func(i int) error {
		w, err := r.connectEcho(ctx, p, pr, route, sess[len(users)], "warm")
		warm[i] = w
		return err
	})
	closeAll(warm)
	time.Sleep(200 * time.Millisecond)

	before, err := settledStatus(ctx, p.pid(), 3, 300*time.Millisecond)
	if err != nil {
		return res, err
	}
	r.log.Info("opening sockets", "target", target, "route", route, "sockets", o.Count)
	conns := make([]*wsConn, o.Count)
	start := time.Now()
	errs := parallel(ctx, o.Count, o.ConnectConcurrency, func(i int) error {
		w, err := r.connectEcho(ctx, p, pr, route, sess[i], users[i])
		if w != nil {
			w.br, w.wbuf, w.frag = nil, nil, nil // the client keeps only the socket
		}
		conns[i] = w
		return err
	})
	openTime := time.Since(start)
	defer closeAll(conns)
	opened := int64(o.Count) - errs.n
	if err := p.alive(); err != nil {
		return res, err
	}
	serverSockets, _ := r.serverSockets(ctx, p)
	samples := int(o.Settle/(500*time.Millisecond)) + 1
	after, err := settledStatus(ctx, p.pid(), samples, 500*time.Millisecond)
	if err != nil {
		return res, err
	}
	per := 0.0
	if opened > 0 {
		per = float64(after.RSS-before.RSS) / float64(opened)
	}
	res.Metrics = []Metric{
		{"sockets", float64(opened), ""},
		{"server_sockets", float64(serverSockets), ""},
		{"open_rate", rate(opened, openTime), "/s"},
		{"rss_before", mib(before.RSS), "MiB"},
		{"rss_after", mib(after.RSS), "MiB"},
		{"threads", float64(after.Threads), ""},
		{"per_socket", math.Round(per), "B"},
		{"per_socket_kib", math.Round(per/1024*100) / 100, "KiB"},
	}
	res.Errors, res.FirstError = errs.n, errs.firstString()
	return res, nil
}

func mib(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }

// connectEcho opens a socket and does one echo of o.Size bytes.
func (r *runner) connectEcho(ctx context.Context, p *process, pr proto, route, session, user string) (*wsConn, error) {
	w, err := r.connect(ctx, p.listen, pr.urlFor(route, session, user), pr, 512)
	if err != nil {
		return nil, err
	}
	w.c.SetDeadline(time.Now().Add(15 * time.Second))
	sent := r.clock.now()
	msg := pr.appendMessage(nil, sent, r.opts.Size)
	if err := w.send(opText, msg); err != nil {
		w.c.Close()
		return nil, err
	}
	for range 10 {
		_, m, err := w.readMessage()
		if err != nil {
			w.c.Close()
			return nil, err
		}
		t, control, err := pr.stamp(w, m)
		if err != nil {
			w.c.Close()
			return nil, err
		}
		if control {
			continue
		}
		if t != sent {
			w.c.Close()
			return nil, fmt.Errorf("%w: echo of another message", errPayload)
		}
		w.c.SetDeadline(time.Time{})
		return w, nil
	}
	w.c.Close()
	return nil, fmt.Errorf("%w: no echo", errPayload)
}

// serverSockets asks the target's admin API how many sockets it holds.
func (r *runner) serverSockets(ctx context.Context, p *process) (int64, error) {
	var st struct{ Sockets int64 }
	err := r.getJSON(ctx, "http://"+p.admin+"/api/v1/stats?scope=local", &st)
	return st.Sockets, err
}

// waitSockets waits, at most limit, until the target holds at least n
// sockets.
func (r *runner) waitSockets(ctx context.Context, p *process, n int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		got, err := r.serverSockets(ctx, p)
		if err == nil && got >= n {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: the target holds %d of %d sockets after %s (last error: %v)", got, n, limit, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// getJSON GETs url and decodes a 200 answer.
func (r *runner) getJSON(ctx context.Context, url string, out any) error {
	req, err := newRequest(ctx, "GET", url, nil, "")
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("bench: GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
