package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/edgews/edgews/gossip"
)

// clusterLocal is this server as the cluster layer sees it (gossip.Local).
type clusterLocal Server

var _ gossip.Local = (*clusterLocal)(nil)

func (c *clusterLocal) Count(_ context.Context, q gossip.Query) (int, error) {
	s := (*Server)(c)
	f, err := Target{Context: q.Context, User: q.User, Path: q.Path}.filter()
	if err != nil {
		return 0, err
	}
	return s.reg.count(q.Context, q.User, f), nil
}

func (c *clusterLocal) Deliver(_ context.Context, m gossip.Message) (int, error) {
	s := (*Server)(c)
	f, err := Target{Context: m.Context, User: m.User, Path: m.Path}.filter()
	if err != nil {
		return 0, err
	}
	t := TextMessage
	if m.Binary {
		t = BinaryMessage
	}
	// gossip hands m.Data over: share it without a copy.
	return s.sendShared(m.Context, m.User, f, t, m.Data), nil
}

func (c *clusterLocal) CloseSession(_ context.Context, id string) (int, error) {
	return (*Server)(c).closeSessionLocal(id), nil
}

func (c *clusterLocal) Stats(context.Context) (json.RawMessage, error) {
	return json.Marshal((*Server)(c).LocalStats())
}

// startCluster creates and starts the gossip node (after the listeners).
func (s *Server) startCluster(version string) error {
	cfg := s.cfg.Load()
	cl := cfg.Cluster
	if cl.Bind == "" {
		return nil
	}
	key := cl.EncryptKey
	if cl.EncryptKeyFile != "" {
		b, err := os.ReadFile(cl.EncryptKeyFile)
		if err != nil {
			return fmt.Errorf("%w: cluster.encrypt_key_file: %w", ErrConfig, err)
		}
		key = strings.TrimSpace(string(b))
	}
	gc := gossip.DefaultConfig()
	gc.NodeName = s.nodeName
	gc.BindAddr = cl.Bind
	gc.AdvertiseAddr = cl.Advertise
	gc.Join = cl.Join
	gc.EncryptKey = key
	gc.InternalBindAddr = cl.InternalBind
	gc.InternalAdvertiseAddr = cl.InternalAdvertise
	gc.Version = version
	gc.MaxMessageSize = int(cfg.Limits.MaxMessageSize)
	gc.ExistsTimeout = cl.ExistsTimeout
	gc.FailedQueueGrace = cl.FailedQueueGrace
	gc.Queue = queueSettings(cl.Remote)
	gc.Timing.ReconnectInterval = cl.ReconnectInterval
	if a := s.Addr(); a != nil {
		gc.Tags = map[string]string{"ws": a.String()}
	}
	n, err := gossip.New(gc, (*clusterLocal)(s), s.log.With("component", "cluster"))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := n.Start(s.ctx); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	s.cluster = n
	go s.watchCluster(n)
	s.log.Info("cluster started", "gossip", n.GossipAddr(), "payload", n.InternalAddr(), "join", cl.Join, "encrypted", key != "")
	return nil
}

func queueSettings(r RemoteQueueConfig) gossip.QueueSettings {
	return gossip.QueueSettings{
		Delay:          r.Delay,
		MaxDelay:       r.MaxDelay,
		TimerFrequency: r.TimerFrequency,
		MaxMessages:    r.MaxMessages,
		MaxBytes:       int64(r.MaxBytes),
	}
}

// MemberInfo describes a cluster member in the admin API.
type MemberInfo struct {
	Name      string `json:"name"`
	Status    string `json:"status"` // alive, leaving, left, failed
	Self      bool   `json:"self"`
	Gossip    string `json:"gossip,omitempty"`
	Internal  string `json:"internal,omitempty"`
	WebSocket string `json:"websocket,omitempty"`
	Version   string `json:"version,omitempty"`
}

// Members lists the cluster's members (just this node when not clustered).
func (s *Server) Members() []MemberInfo {
	if s.cluster == nil {
		ws := ""
		if a := s.Addr(); a != nil {
			ws = a.String()
		}
		return []MemberInfo{{Name: s.nodeName, Status: "alive", Self: true, WebSocket: ws, Version: s.opts.version}}
	}
	var out []MemberInfo
	for _, m := range s.cluster.Members() {
		out = append(out, MemberInfo{
			Name: m.Name, Status: m.Status.String(), Self: m.Self, Gossip: m.Addr,
			Internal: m.InternalAddr, WebSocket: m.Tags["ws"], Version: m.Version,
		})
	}
	return out
}

// Cluster returns the gossip node, or nil when not clustered.
func (s *Server) Cluster() *gossip.Node { return s.cluster }

// existsCluster asks the other members (the local answer was no).
func (s *Server) existsCluster(ctx context.Context, t Target) (ExistsResult, error) {
	res, err := s.cluster.Exists(ctx, gossip.Query{Context: t.Context, User: t.User, Path: t.Path}, gossip.ExistsOptions{})
	if err != nil && !errors.Is(err, gossip.ErrIncomplete) {
		return ExistsResult{}, err
	}
	return ExistsResult{Exists: res.Found, Sockets: res.Count, Complete: res.Complete}, nil
}

// sendCluster queues m for every other member.
func (s *Server) sendCluster(ctx context.Context, t Target, m Message) (int, error) {
	return s.cluster.Send(ctx, gossip.Message{
		Context: t.Context, User: t.User, Path: t.Path,
		Binary: m.Type == BinaryMessage, Data: m.Data,
	})
}

// statsCluster sums every member's stats.
func (s *Server) statsCluster(ctx context.Context) (Stats, error) {
	total := s.LocalStats()
	total.Node = ""
	members, err := s.cluster.Stats(ctx)
	if err != nil && len(members) == 0 {
		return total, err
	}
	for _, m := range members {
		if m.Err != nil || m.Name == s.nodeName {
			continue
		}
		var st Stats
		if json.Unmarshal(m.Stats, &st) == nil {
			total.Add(st)
		}
	}
	return total, nil
}

// leaveCluster flushes the remote queues and leaves (graceful shutdown).
func (s *Server) leaveCluster() {
	if s.cluster == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Load().Cluster.LeaveTimeout)
	defer cancel()
	if err := s.cluster.Leave(ctx); err != nil {
		s.log.Warn("cluster leave incomplete", "error", err)
	}
	s.cluster.Shutdown()
}

// watchCluster reports a cluster layer that stopped on its own (serf shuts
// itself down when another node claims this node's name): the node keeps
// serving its own sockets but is no longer part of the cluster, and
// /readyz says so.
func (s *Server) watchCluster(n *gossip.Node) {
	select {
	case <-n.Done():
	case <-s.ctx.Done():
		return
	}
	if s.stopped.Load() {
		return
	}
	s.clusterDown.Store(true)
	s.log.Error("the cluster layer stopped: this node serves its own sockets but is no longer in the cluster (another node may use the same node_name); restart it")
}
