package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cluster: three edgews processes on 127.0.0.1, .2 and .3, gossiping with
// a shared key and verifying HS256 JWTs with a shared secret. Each sender
// owns a user with one socket on node 2 and one on node 3 and posts
// POST /api/v1/send to node 1, so every message crosses to two nodes.
// Measured per remote-queue delay (reloaded with SIGHUP between settings)
// and message size: latency with one sender waiting for both receipts
// before the next send, and throughput with Senders senders posting as
// fast as node 1 accepts. The same-node baseline (sender and socket on
// node 1) is measured in the same run; there is no reference server for a
// cluster. Then exists on node 1 for a user with sockets only on nodes 2
// and 3 (positive) and for one with none (negative).

type clusterNode struct {
	name   string
	gossip string
	cfg    edgewsConfig
	p      *process
}

// phase collects the receipts of one measurement.
type phase struct {
	h        atomicHist
	received atomic.Int64
	first    atomic.Int64
	last     atomic.Int64
	notify   chan struct{}
}

func newPhase() *phase { return &phase{notify: make(chan struct{}, 1)} }

func (ph *phase) receipt(now, sent time.Duration) {
	ph.h.record(now - sent)
	ph.received.Add(1)
	for {
		l := ph.last.Load()
		if int64(now) <= l || ph.last.CompareAndSwap(l, int64(now)) {
			break
		}
	}
	select {
	case ph.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until n receipts arrived or the limit passes.
func (ph *phase) waitFor(n int64, limit time.Duration) bool {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for ph.received.Load() < n {
		select {
		case <-ph.notify:
		case <-deadline.C:
			return ph.received.Load() >= n
		}
	}
	return true
}

func delayName(d time.Duration) string {
	if d < 0 {
		return "default"
	}
	return d.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *runner) cluster(ctx context.Context) error {
	o := r.opts
	secret := randomHex(32)
	keyBytes := make([]byte, 32)
	rand.Read(keyBytes)
	key := base64.StdEncoding.EncodeToString(keyBytes)
	delayPtr := func(d time.Duration) *time.Duration {
		if d < 0 {
			return nil
		}
		return &d
	}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		ip := "127.0.0." + strconv.Itoa(i+1)
		n := &clusterNode{name: "node" + strconv.Itoa(i+1)}
		var err error
		if n.cfg.listen, err = freeAddr(ip, false); err != nil {
			return err
		}
		if n.cfg.admin, err = freeAddr(ip, false); err != nil {
			return err
		}
		if n.gossip, err = freeAddr(ip, true); err != nil {
			return err
		}
		n.cfg.verifier, n.cfg.jwtSecret, n.cfg.logLevel = "jwt", secret, "info"
		n.cfg.remoteDelay = delayPtr(o.Delays[0])
		args := []string{"--node-name", n.name, "--cluster-bind", n.gossip, "--cluster-key", key}
		if i > 0 {
			args = append(args, "--cluster-join", nodes[0].gossip)
		}
		r.log.Info("starting cluster node", "node", n.name)
		if n.p, err = r.startEdgews(ctx, n.name, n.cfg, args...); err != nil {
			return err
		}
		nodes[i] = n
	}
	if err := r.waitMembers(ctx, nodes, 30*time.Second); err != nil {
		return err
	}

	// Sockets: x<i> on nodes 2 and 3, l<i> on node 1.
	var current atomic.Pointer[phase]
	current.Store(newPhase())
	readBuf := 4096
	for _, s := range o.Sizes {
		readBuf = max(readBuf, s+64)
	}
	var conns []*wsConn
	var readers sync.WaitGroup
	var stopping atomic.Bool
	readErrs := &errCount{}
	defer func() {
		stopping.Store(true)
		closeAll(conns)
		readers.Wait()
	}()
	open := func(n *clusterNode, user string) error {
		tok, err := signJWT(secret, user, "sid-"+user+"-"+n.name)
		if err != nil {
			return err
		}
		pr := proto{}
		w, err := r.connect(ctx, n.cfg.listen, pr.urlFor("/ws", url.QueryEscape(tok), user), pr, readBuf)
		if err != nil {
			return fmt.Errorf("bench: socket for %s on %s: %w", user, n.name, err)
		}
		conns = append(conns, w)
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, m, err := w.readMessage()
				if err != nil {
					if !stopping.Load() {
						readErrs.add(err)
					}
					return
				}
				now := r.clock.now()
				t, err := parseStamp(m)
				if err != nil {
					readErrs.add(err)
					continue
				}
				current.Load().receipt(now, t)
			}
		}()
		return nil
	}
	for i := range o.Senders {
		for _, n := range nodes[1:] {
			if err := open(n, "x"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		if err := open(nodes[0], "l"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	// A send to a user right after the upgrade must find the sockets on
	// every node: wait until node 1 sees x0 cluster-wide.
	if err := r.waitExists(ctx, nodes[0], "x0", 10*time.Second); err != nil {
		return err
	}

	for di, d := range o.Delays {
		if di > 0 {
			if err := r.reloadDelay(ctx, nodes, delayPtr(d)); err != nil {
				return err
			}
		}
		for _, size := range o.Sizes {
			cas := fmt.Sprintf("cross-node delay=%s %s", delayName(d), sizeName(size))
			for _, senders := range []int{1, o.Senders} {
				res, err := r.clusterSends(ctx, nodes[0], "x", senders, 2, size, &current)
				if err != nil {
					return err
				}
				res.Case = fmt.Sprintf("%s senders=%d", cas, senders)
				r.report.add(res)
			}
			if di == 0 {
				for _, senders := range []int{1, o.Senders} {
					res, err := r.clusterSends(ctx, nodes[0], "l", senders, 1, size, &current)
					if err != nil {
						return err
					}
					res.Case = fmt.Sprintf("same-node %s senders=%d", sizeName(size), senders)
					r.report.add(res)
				}
			}
		}
	}
	for _, ex := range []struct {
		cas, user string
		want      bool
	}{{"exists positive", "x0", true}, {"exists negative", "nobody", false}} {
		res := r.clusterExists(ctx, nodes[0], ex.user, ex.want)
		res.Case = ex.cas
		r.report.add(res)
	}
	for _, d := range o.Delays {
		for _, size := range o.Sizes {
			of := fmt.Sprintf("cross-node delay=%s %s senders=1", delayName(d), sizeName(size))
			over := fmt.Sprintf("same-node %s senders=1", sizeName(size))
			r.report.compare(of, over, match(targetEdgews, "", of), match(targetEdgews, "", over), "", "", "p50", "p99")
		}
	}
	if readErrs.n > 0 {
		r.report.note("socket read errors: %d, first: %s", readErrs.n, readErrs.firstString())
	}
	r.report.note("3 nodes on 127.0.0.1-3; sends are POST /api/v1/send on node1 for users with one socket on node2 and one on node3 (2 deliveries per message); same-node sends go to a socket on node1; latencies in ms from building the request to the receipt; senders=1 waits for every receipt before the next send; the default delay is edgews's cluster.remote.delay default")
	return nil
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

// waitMembers waits until every node lists three alive members.
func (r *runner) waitMembers(ctx context.Context, nodes []*clusterNode, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, n := range nodes {
		for {
			var out struct{ Members []struct{ Status string } }
			alive := 0
			if err := r.getJSON(ctx, "http://"+n.cfg.admin+"/api/v1/members", &out); err == nil {
				for _, m := range out.Members {
					if m.Status == "alive" {
						alive++
					}
				}
			}
			if alive == len(nodes) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: %s sees %d of %d members alive after %s\n%s", n.name, alive, len(nodes), limit, n.p.out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// waitExists waits until node n sees user cluster-wide.
func (r *runner) waitExists(ctx context.Context, n *clusterNode, user string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var out struct{ Exists bool }
		if err := r.getJSON(ctx, "http://"+n.cfg.admin+"/api/v1/exists?context=1&user="+user, &out); err == nil && out.Exists {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s does not see %s's sockets after %s", n.name, user, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reloadDelay rewrites every node's config with a new remote delay and
// reloads it with SIGHUP, waiting for each node to confirm.
func (r *runner) reloadDelay(ctx context.Context, nodes []*clusterNode, d *time.Duration) error {
	for _, n := range nodes {
		n.cfg.remoteDelay = d
		before := n.p.out.count()
		if _, err := writeConfig(r.dir, n.name+".yaml", n.cfg.yaml()); err != nil {
			return err
		}
		if err := n.p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			return fmt.Errorf("bench: reloading %s: %w", n.name, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for n.p.out.count() == before {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("bench: %s did not confirm the reload\n%s", n.name, n.p.out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// clusterSends measures sends from node n to users prefix0..prefix(senders-1),
// each with perSend sockets. With one sender it waits for every receipt
// before the next send (latency); with more, each sender posts as fast as
// the node accepts (throughput) and the receipts are awaited at the end.
func (r *runner) clusterSends(ctx context.Context, n *clusterNode, prefix string, senders, perSend, size int, current *atomic.Pointer[phase]) (Result, error) {
	o := r.opts
	res := Result{Target: targetEdgews, Route: "/ws"}
	ph := newPhase()
	current.Store(ph)
	url := "http://" + n.cfg.admin + "/api/v1/send"
	end := time.Now().Add(o.Duration)
	var sent atomic.Int64
	errs := &errCount{}
	first := r.clock.now()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := prefix + strconv.Itoa(s)
			var body, msg []byte
			for i := 0; i < 10_000_000 && time.Now().Before(end) && ctx.Err() == nil; i++ {
				msg = appendStamped(msg[:0], r.clock.now(), size)
				body = appendSendJSON(body[:0], user, msg)
				var out struct{ Sockets, Nodes int }
				if _, err := r.post(ctx, url, body, 202, &out); err != nil {
					errs.add(err)
					time.Sleep(time.Millisecond)
					continue
				}
				total := sent.Add(1)
				if senders == 1 && !ph.waitFor(total*int64(perSend), 5*time.Second) {
					errs.add(fmt.Errorf("bench: message %d not received by all %d sockets within 5s", total, perSend))
				}
			}
		}()
	}
	wg.Wait()
	want := sent.Load() * int64(perSend)
	ph.waitFor(want, 10*time.Second)
	got := ph.received.Load()
	span := time.Duration(ph.last.Load()) - first
	h := ph.h.snapshot()
	res.Metrics = []Metric{
		{"senders", float64(senders), ""},
		{"msgs_per_s", rate(sent.Load(), span), "/s"},
		{"deliveries_per_s", rate(got, span), "/s"},
		{"p50", ms(h.quantile(0.5)), "ms"},
		{"p99", ms(h.quantile(0.99)), "ms"},
		{"lost", float64(max(want-got, 0)), ""},
	}
	res.Errors, res.FirstError = errs.n+max(want-got, 0), errs.firstString()
	if err := n.p.alive(); err != nil {
		return res, err
	}
	return res, nil
}

// clusterExists measures GET /api/v1/exists on node n.
func (r *runner) clusterExists(ctx context.Context, n *clusterNode, user string, want bool) Result {
	o := r.opts
	res := Result{Target: targetEdgews, Route: "/ws"}
	u := "http://" + n.cfg.admin + "/api/v1/exists?context=1&user=" + user
	var h hist
	errs := &errCount{}
	end := time.Now().Add(o.Duration)
	start := time.Now()
	count, incomplete := 0, 0
	for ; count < o.ExistsCount && time.Now().Before(end) && ctx.Err() == nil; count++ {
		t0 := time.Now()
		var out struct{ Exists, Complete bool }
		if err := r.getJSON(ctx, u, &out); err != nil {
			errs.add(err)
			continue
		}
		h.record(time.Since(t0))
		switch {
		case !out.Exists && !out.Complete:
			incomplete++ // the exists timeout passed before every node answered
		case out.Exists != want:
			errs.add(fmt.Errorf("bench: exists for %s answered exists=%v complete=%v", user, out.Exists, out.Complete))
		}
	}
	res.Metrics = []Metric{
		{"queries_per_s", rate(int64(count), time.Since(start)), "/s"},
		{"p50", ms(h.quantile(0.5)), "ms"},
		{"p99", ms(h.quantile(0.99)), "ms"},
		{"incomplete", float64(incomplete), ""},
	}
	res.Errors, res.FirstError = errs.n, errs.firstString()
	return res
}
