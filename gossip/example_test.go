package gossip_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/edgews/edgews/gossip"
)

// oneSocket is a Local with a single socket of user "alice" in context "1"
// on path "/socket.io/"; delivered messages go to a channel.
type oneSocket struct{ inbox chan string }

func (l oneSocket) matches(ctx, user, filter string) bool {
	return ctx == "1" && user == "alice" && (filter == "*" || filter == "/socket.io/*" || filter == "/socket.io/")
}

func (l oneSocket) Count(_ context.Context, q gossip.Query) (int, error) {
	if l.matches(q.Context, q.User, q.Path) {
		return 1, nil
	}
	return 0, nil
}

func (l oneSocket) Deliver(_ context.Context, m gossip.Message) (int, error) {
	if !l.matches(m.Context, m.User, m.Path) {
		return 0, nil
	}
	l.inbox <- string(m.Data)
	return 1, nil
}

func (l oneSocket) CloseSession(context.Context, string) (int, error) { return 0, nil }

func (l oneSocket) Stats(context.Context) (json.RawMessage, error) {
	return json.RawMessage(`{"sockets":1}`), nil
}

// Two nodes on loopback form a cluster; the first finds alice's socket on
// the second and sends her a message.
func Example() {
	ctx := context.Background()
	start := func(name, bind string, join ...string) (*gossip.Node, oneSocket) {
		cfg := gossip.DefaultConfig()
		cfg.NodeName = name
		cfg.BindAddr = bind // port 0: any free port
		cfg.Join = join
		cfg.Queue.Delay, cfg.Queue.MaxDelay = 0, 0 // send at once
		local := oneSocket{inbox: make(chan string, 1)}
		n, err := gossip.New(cfg, local, nil)
		if err != nil {
			log.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			log.Fatal(err)
		}
		return n, local
	}
	a, _ := start("example-a", "127.0.0.1:0")
	defer a.Shutdown()
	b, bLocal := start("example-b", "127.0.0.2:0", a.GossipAddr())
	defer b.Shutdown()

	// Joining runs in the background; wait until a has a queue for b.
	for i := 0; i < 500 && len(a.Metrics().Peers) < 1; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("members:", len(a.Members()))

	res, err := a.Exists(ctx, gossip.Query{Context: "1", User: "alice", Path: "/socket.io/*"}, gossip.ExistsOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice has a socket elsewhere:", res.Found)

	if _, err := a.Send(ctx, gossip.Message{Context: "1", User: "alice", Path: "*", Data: []byte("hello from a")}); err != nil {
		log.Fatal(err)
	}
	select {
	case msg := <-bLocal.inbox:
		fmt.Println("b delivered:", msg)
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	// Output:
	// members: 2
	// alice has a socket elsewhere: true
	// b delivered: hello from a
}
