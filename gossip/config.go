package gossip

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults. DefaultConfig fills a Config with them.
const (
	DefaultBindAddr       = "127.0.0.1:7946"
	DefaultMaxMessageSize = 1 << 20
	DefaultExistsTimeout  = time.Second
)

// MaxFieldSize is the most bytes the context, user or path of a Message may
// take.
const MaxFieldSize = 1024

// MaxNodeName bounds Config.NodeName (a Linux host name fits). The asking
// node's name travels in every exists query, and a query of
// MaxExistsQuerySize must still fit into one gossip packet; see
// serfQuerySizeLimit.
const MaxNodeName = 64

// minPayloadSecret is the shortest Config.PayloadSecret accepted.
const minPayloadSecret = 16

// reservedTagPrefix marks the tags gossip sets itself.
const reservedTagPrefix = "ew_"

// Config configures a Node. Start from DefaultConfig; New validates it once
// and names the offending field in its error.
type Config struct {
	// NodeName is the unique name of this node in the cluster, 1 to
	// MaxNodeName bytes. Default: the host name.
	NodeName string
	// BindAddr is the host:port serf binds for gossip (UDP and TCP). The
	// host must be an IP address. Port 0 picks a free port.
	BindAddr string
	// AdvertiseAddr is the host:port other members reach this node's gossip
	// at. Default: BindAddr (with memberlist choosing a private address if
	// the bind host is unspecified).
	AdvertiseAddr string
	// Join lists host:port addresses of members to join at Start. Joining
	// runs in the background and is retried until one address answers.
	Join []string
	// JoinRetryInterval is the wait after the first failed join attempt;
	// it doubles after each further failure up to JoinRetryMaxInterval.
	JoinRetryInterval    time.Duration
	JoinRetryMaxInterval time.Duration
	// JoinMaxAttempts stops retrying after that many attempts; 0 retries
	// until joined or shut down.
	JoinMaxAttempts int

	// EncryptKey is the base64 encoding of a 16, 24 or 32 byte AES key.
	// When set, all gossip is encrypted and authenticated with it and the
	// payload path's HMAC key is derived from it. Required when BindAddr or
	// InternalBindAddr is not a loopback address.
	EncryptKey string
	// PayloadSecret, if set (at least 16 bytes), is used instead of
	// EncryptKey to derive the payload path's HMAC key. Without EncryptKey and PayloadSecret (allowed
	// on loopback only) payload requests are signed with a fixed,
	// well-known key: the check still runs but proves nothing.
	PayloadSecret string

	// InternalBindAddr is the host:port the payload path (node-to-node
	// HTTP) listens on. Default: the host of BindAddr with port 0, that is
	// a free port; the address is advertised in the member's tags.
	InternalBindAddr string
	// InternalAdvertiseAddr is the host:port other members reach the
	// payload path at. Default: the advertised gossip host with the bound
	// internal port.
	InternalAdvertiseAddr string
	// PayloadTLS, if set, serves the payload path over TLS with this
	// config; members then dial it with PayloadClientTLS.
	PayloadTLS       *tls.Config
	PayloadClientTLS *tls.Config

	// Version is this node's edgews version, advertised in its tags.
	Version string
	// Tags are extra tags to advertise. Keys starting with "ew_" are
	// reserved. All tags together must encode to at most 512 bytes.
	Tags map[string]string

	// MaxMessageSize is the largest message payload Send accepts and a
	// receiver takes. All members should use the same value.
	MaxMessageSize int
	// MaxBatchMessages and MaxBatchBytes bound one batch on the payload
	// path. A single message larger than MaxBatchBytes travels alone.
	MaxBatchMessages int
	MaxBatchBytes    int
	// Queue holds the remote queue settings; see SetQueueSettings.
	Queue QueueSettings
	// FailedQueueGrace is how long the queue of a member declared failed
	// is kept (and retried, and still filled by Send) in case the member
	// was only unreachable: a false suspicion on a starved machine or a
	// short partition then costs nothing. A member that comes back as the
	// same incarnation resumes its queue; after the grace, or when it
	// left or restarted, the queue is dropped and counted. 0 drops at once.
	FailedQueueGrace time.Duration

	// ExistsTimeout is how long Exists waits for answers by default.
	ExistsTimeout time.Duration
	// QueryWorkers bounds the exists queries this node answers at once;
	// beyond it, queries are answered "overloaded".
	QueryWorkers int
	// RPCTimeout bounds Stats and CloseSession calls to each member.
	RPCTimeout time.Duration
	// DeliveryTimeout bounds one batch request on the payload path.
	DeliveryTimeout time.Duration
	// MaxClockSkew is how far the timestamp of a payload request may be
	// from the receiver's clock. Members' clocks must agree within it.
	MaxClockSkew time.Duration

	// Timing tunes serf and memberlist; see Timing.
	Timing Timing
}

// QueueSettings control the remote queues, one per destination member. They
// are named after the seeds' remote communication settings and can be
// changed at runtime with Node.SetQueueSettings.
//
// A destination's pending messages form its next batch. The batch is due
// when the newest message has waited Delay (a burst keeps it open), when the
// oldest has waited MaxDelay (a steady stream cannot hold it forever), or
// when it is full (Config.MaxBatchMessages or MaxBatchBytes). Whether a batch
// is due is checked on every new message and every TimerFrequency while
// messages wait. Only one batch per destination is in flight; what arrives
// meanwhile queues behind it, so even Delay 0 batches under load.
type QueueSettings struct {
	// Delay is how long a message waits for more to batch with
	// (com.openexchange.websockets.grizzly.remote.delayDuration). 0 sends
	// at once.
	Delay time.Duration
	// MaxDelay is the most any message waits (…remote.maxDelayDuration).
	// Must be at least Delay.
	MaxDelay time.Duration
	// TimerFrequency is how often waiting messages are checked for being
	// due (…remote.timerFrequency).
	TimerFrequency time.Duration
	// MaxMessages and MaxBytes bound each destination's queue; MaxBytes
	// counts each message's encoded size (payload plus context, user and
	// path). A message that does not fit is dropped for that destination,
	// counted and logged (rate-limited).
	MaxMessages int
	MaxBytes    int64
}

// DefaultQueueSettings returns the default remote queue settings: a 5 ms
// delay capped at 20 ms, checked every 2 ms. Open-Xchange used 1000, 3000 and
// 500 ms for its Hazelcast topics; edgews pushes to browsers in real time, so
// it keeps the added latency below a display frame while still turning a
// burst (a backend notifying many users at once) into one batch per member.
func DefaultQueueSettings() QueueSettings {
	return QueueSettings{
		Delay:          5 * time.Millisecond,
		MaxDelay:       20 * time.Millisecond,
		TimerFrequency: 2 * time.Millisecond,
		MaxMessages:    100_000,
		MaxBytes:       64 << 20,
	}
}

// Timing tunes serf and memberlist. The defaults suit a LAN or loopback
// (round trips well under a millisecond); see FailureDetectionBound for what
// they mean for failure detection.
type Timing struct {
	// GossipInterval is how often memberlist sends queued broadcasts (serf
	// queries, membership changes) to GossipNodes random members. An exists
	// query reaches the members of a small cluster within one interval, so
	// this bounds exists latency; an idle node only wakes up, it sends
	// nothing. memberlist's LAN default is 200 ms.
	GossipInterval time.Duration
	GossipNodes    int
	// ProbeInterval and ProbeTimeout drive failure detection: every
	// interval each member probes one other member and waits ProbeTimeout
	// for the ack before asking others to probe indirectly. LAN defaults:
	// 1 s and 500 ms.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// SuspicionMult scales how long a suspected member has to refute
	// before it is declared failed: SuspicionMult × max(1, log10(n)) ×
	// ProbeInterval, up to SuspicionMaxTimeoutMult times that while
	// confirmations from other members are missing. LAN defaults: 4 and 6.
	SuspicionMult           int
	SuspicionMaxTimeoutMult int
	// RetransmitMult sets how often a broadcast is retransmitted:
	// RetransmitMult × ceil(log10(n+1)).
	RetransmitMult int
	// PushPullInterval is how often full state is exchanged with a random
	// member (anti-entropy, and how partitions heal).
	PushPullInterval time.Duration
	// TCPTimeout bounds TCP connections for push/pull and fallback probes.
	TCPTimeout time.Duration
	// ReconnectInterval is how often serf tries to reach failed members;
	// after ReconnectTimeout a failed member is reaped (removed).
	ReconnectInterval time.Duration
	ReconnectTimeout  time.Duration
	// TombstoneTimeout is how long members that left stay listed.
	TombstoneTimeout time.Duration
	// DeadNodeReclaimTime is how long after a member was declared failed
	// a process may take over its name from another address (a restart
	// with a new IP or port). 0 means not until memberlist forgets the
	// dead member (30 s); until then the returning node is in a name
	// conflict, loses it against the dead member's old address, and
	// stops (see Node.Done).
	DeadNodeReclaimTime time.Duration
	// BroadcastTimeout bounds waiting for a leave broadcast to go out;
	// LeavePropagateDelay is how long a leaving node stays up afterwards so
	// the news spreads before it stops answering probes.
	BroadcastTimeout    time.Duration
	LeavePropagateDelay time.Duration
}

// DefaultTiming returns timings tuned for a LAN or loopback.
func DefaultTiming() Timing {
	return Timing{
		GossipInterval:          5 * time.Millisecond,
		GossipNodes:             3,
		ProbeInterval:           200 * time.Millisecond,
		ProbeTimeout:            100 * time.Millisecond,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 3,
		RetransmitMult:          4,
		PushPullInterval:        15 * time.Second,
		TCPTimeout:              2 * time.Second,
		ReconnectInterval:       10 * time.Second,
		ReconnectTimeout:        24 * time.Hour,
		TombstoneTimeout:        24 * time.Hour,
		DeadNodeReclaimTime:     time.Millisecond,
		BroadcastTimeout:        5 * time.Second,
		LeavePropagateDelay:     500 * time.Millisecond,
	}
}

// FailureDetectionBound returns the longest time, by memberlist's algorithm,
// between a member of an n-member cluster dying and the survivors declaring
// it failed, assuming the survivors are healthy (memberlist stretches its
// probe interval up to 8× on a node that itself misses probes):
//
//   - first probe: each survivor probes the others round-robin, one per
//     ProbeInterval, reshuffling after each round, so the dead node is
//     probed within 2(n−1)−1 intervals by any one survivor (far sooner in
//     practice, as all survivors probe);
//   - the failed probe itself, indirect probes included: one ProbeInterval;
//   - the suspicion timeout: SuspicionMult × max(1, log10(n)) ×
//     ProbeInterval, times SuspicionMaxTimeoutMult if the cluster is large
//     enough to expect confirmations (n−2 ≥ SuspicionMult−2);
//   - spreading the verdict: ceil(log_GossipNodes(n)) + 1 gossip intervals.
//
// With DefaultTiming that is 1.61 s for 3 members and 6.02 s for 10.
func (t Timing) FailureDetectionBound(n int) time.Duration {
	if n < 2 {
		return 0
	}
	firstProbe := time.Duration(2*(n-1)-1) * t.ProbeInterval
	scale := math.Max(1, math.Log10(float64(n)))
	suspicion := time.Duration(float64(t.SuspicionMult) * scale * float64(t.ProbeInterval))
	if k := t.SuspicionMult - 2; k > 0 && n-2 >= k {
		suspicion *= time.Duration(t.SuspicionMaxTimeoutMult)
	}
	fanout := math.Max(2, float64(t.GossipNodes))
	rounds := math.Ceil(math.Log(float64(n))/math.Log(fanout)) + 1
	spread := time.Duration(rounds) * t.GossipInterval
	return firstProbe + t.ProbeInterval + suspicion + spread
}

// DefaultConfig returns a Config with every default filled in: a node
// named after the host, gossiping on 127.0.0.1:7946, not encrypted (allowed
// on loopback only), joining nobody.
func DefaultConfig() Config {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "edgews"
	}
	return Config{
		NodeName:             name,
		BindAddr:             DefaultBindAddr,
		JoinRetryInterval:    time.Second,
		JoinRetryMaxInterval: 30 * time.Second,
		MaxMessageSize:       DefaultMaxMessageSize,
		MaxBatchMessages:     1024,
		MaxBatchBytes:        4 << 20,
		Queue:                DefaultQueueSettings(),
		FailedQueueGrace:     30 * time.Second,
		ExistsTimeout:        DefaultExistsTimeout,
		QueryWorkers:         64,
		RPCTimeout:           5 * time.Second,
		DeliveryTimeout:      10 * time.Second,
		MaxClockSkew:         30 * time.Second,
		Timing:               DefaultTiming(),
	}
}

func configErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}

// validate checks c and returns the decoded encryption key, if any.
func (c *Config) validate() ([]byte, error) {
	if c.NodeName == "" || len(c.NodeName) > MaxNodeName || strings.ContainsAny(c.NodeName, "\r\n\x00") {
		return nil, configErr("NodeName", "must be 1 to %d bytes without line breaks, got %q", MaxNodeName, c.NodeName)
	}
	if c.PayloadSecret != "" && len(c.PayloadSecret) < minPayloadSecret {
		return nil, configErr("PayloadSecret", "must be at least %d bytes", minPayloadSecret)
	}
	bind, err := parseHostPort(c.BindAddr)
	if err != nil {
		return nil, configErr("BindAddr", "%v", err)
	}
	if c.AdvertiseAddr != "" {
		if _, err := parseHostPort(c.AdvertiseAddr); err != nil {
			return nil, configErr("AdvertiseAddr", "%v", err)
		}
	}
	internal := bind.Addr()
	if c.InternalBindAddr != "" {
		ap, err := parseHostPort(c.InternalBindAddr)
		if err != nil {
			return nil, configErr("InternalBindAddr", "%v", err)
		}
		internal = ap.Addr()
	}
	if c.InternalAdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.InternalAdvertiseAddr); err != nil {
			return nil, configErr("InternalAdvertiseAddr", "%v", err)
		}
	}
	for i, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return nil, configErr(fmt.Sprintf("Join[%d]", i), "%v", err)
		}
	}
	if c.JoinRetryInterval <= 0 || c.JoinRetryMaxInterval < c.JoinRetryInterval {
		return nil, configErr("JoinRetryInterval", "must be > 0 and <= JoinRetryMaxInterval")
	}
	if c.JoinMaxAttempts < 0 {
		return nil, configErr("JoinMaxAttempts", "must be >= 0")
	}
	if c.FailedQueueGrace < 0 {
		return nil, configErr("FailedQueueGrace", "must be >= 0")
	}

	var key []byte
	if c.EncryptKey != "" {
		key, err = base64.StdEncoding.DecodeString(c.EncryptKey)
		if err != nil {
			return nil, configErr("EncryptKey", "not base64: %v", err)
		}
		if l := len(key); l != 16 && l != 24 && l != 32 {
			return nil, configErr("EncryptKey", "must decode to 16, 24 or 32 bytes, got %d", l)
		}
	} else {
		if !bind.Addr().IsLoopback() {
			return nil, configErr("EncryptKey", "required when BindAddr (%s) is not a loopback address", c.BindAddr)
		}
		if !internal.IsLoopback() {
			return nil, configErr("EncryptKey", "required when InternalBindAddr (%s) is not a loopback address", c.InternalBindAddr)
		}
	}
	if (c.PayloadClientTLS == nil) != (c.PayloadTLS == nil) {
		return nil, configErr("PayloadTLS", "PayloadTLS and PayloadClientTLS must be set together")
	}

	for k := range c.Tags {
		if strings.HasPrefix(k, reservedTagPrefix) {
			return nil, configErr("Tags", "key %q uses the reserved prefix %q", k, reservedTagPrefix)
		}
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"MaxMessageSize", int64(c.MaxMessageSize)},
		{"MaxBatchMessages", int64(c.MaxBatchMessages)},
		{"MaxBatchBytes", int64(c.MaxBatchBytes)},
		{"ExistsTimeout", int64(c.ExistsTimeout)},
		{"QueryWorkers", int64(c.QueryWorkers)},
		{"RPCTimeout", int64(c.RPCTimeout)},
		{"DeliveryTimeout", int64(c.DeliveryTimeout)},
		{"MaxClockSkew", int64(c.MaxClockSkew)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return nil, configErr(p.name, "must be > 0")
		}
	}
	if c.MaxMessageSize > 1<<30 || c.MaxBatchBytes > 1<<30 {
		return nil, configErr("MaxMessageSize", "MaxMessageSize and MaxBatchBytes must be at most 1 GiB")
	}
	if err := c.Queue.validate(); err != nil {
		return nil, err
	}
	if err := c.Timing.validate(); err != nil {
		return nil, err
	}
	return key, nil
}

func (q *QueueSettings) validate() error {
	switch {
	case q.Delay < 0:
		return configErr("Queue.Delay", "must be >= 0")
	case q.MaxDelay < q.Delay:
		return configErr("Queue.MaxDelay", "must be >= Delay (%s), got %s", q.Delay, q.MaxDelay)
	case q.TimerFrequency <= 0:
		return configErr("Queue.TimerFrequency", "must be > 0")
	case q.MaxMessages <= 0:
		return configErr("Queue.MaxMessages", "must be > 0")
	case q.MaxBytes <= 0:
		return configErr("Queue.MaxBytes", "must be > 0")
	}
	return nil
}

func (t *Timing) validate() error {
	switch {
	case t.GossipInterval <= 0:
		return configErr("Timing.GossipInterval", "must be > 0")
	case t.GossipNodes <= 0:
		return configErr("Timing.GossipNodes", "must be > 0")
	case t.ProbeInterval <= 0 || t.ProbeTimeout <= 0 || t.ProbeTimeout >= t.ProbeInterval:
		return configErr("Timing.ProbeTimeout", "must be > 0 and below ProbeInterval")
	case t.SuspicionMult <= 0 || t.SuspicionMaxTimeoutMult <= 0:
		return configErr("Timing.SuspicionMult", "SuspicionMult and SuspicionMaxTimeoutMult must be > 0")
	case t.RetransmitMult <= 0:
		return configErr("Timing.RetransmitMult", "must be > 0")
	case t.PushPullInterval <= 0 || t.TCPTimeout <= 0:
		return configErr("Timing.PushPullInterval", "PushPullInterval and TCPTimeout must be > 0")
	case t.ReconnectInterval <= 0 || t.ReconnectTimeout <= 0 || t.TombstoneTimeout <= 0:
		return configErr("Timing.ReconnectTimeout", "ReconnectInterval, ReconnectTimeout and TombstoneTimeout must be > 0")
	case t.DeadNodeReclaimTime < 0:
		return configErr("Timing.DeadNodeReclaimTime", "must be >= 0")
	case t.BroadcastTimeout <= 0 || t.LeavePropagateDelay < 0:
		return configErr("Timing.BroadcastTimeout", "must be > 0 (LeavePropagateDelay >= 0)")
	}
	return nil
}

// parseHostPort parses "ip:port"; the host must be an IP literal.
func parseHostPort(s string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", port)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("host %q is not an IP address", host)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}
