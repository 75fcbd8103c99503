package wsconn

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/edgews/edgews/server/internal/netpoll"
	"github.com/edgews/edgews/server/internal/wsproto"
)

// Regression (found as a rare hang of TestCompression, since fixed): a
// connection whose net.Conn was closed behind its back (the tests'
// cleanup did that) unregistered its fd number from epoll when it
// finished, and read the number with a bare read(2). By then the number
// could belong to a new connection, which lost its registration (and
// hung) or had its bytes read by the dead one. Now reads go through the
// RawConn and unregistering happens under RawConn.Control, so a closed
// conn touches nothing that reuses its number.
//
// Not parallel: the test relies on accept(2) handing out the lowest free
// fd number, which other tests opening sockets at the same moment would
// take.
func TestClosedElsewhereLeavesReusedFDAlone(t *testing.T) {
	p, ln := pollerAndListener(t)
	accept := func() net.Conn {
		t.Helper()
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	fdOf := func(nc net.Conn) int {
		fd, ok := rawFD(nc)
		if !ok {
			t.Fatal("no fd")
		}
		return fd
	}

	for try := 0; ; try++ {
		cA, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		scA := accept()
		connA := New(scA, baseConfig(), nil, newRecorder(false))
		connA.Serve(p, nil)
		if connA.reg.Load() == nil {
			t.Fatal("connection A is not driven by the poller")
		}
		fdA := fdOf(scA)

		// B's client side exists first, so that B's accepted side takes
		// the number A's close frees.
		cB, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		scA.Close() // behind A's back
		scB := accept()
		if fdOf(scB) != fdA {
			scB.Close()
			cB.Close()
			cA.Close()
			connA.Abort("test")
			if try == 5 {
				t.Fatalf("the accepted socket never reused fd %d", fdA)
			}
			continue
		}
		hB := newRecorder(true)
		connB := New(scB, baseConfig(), nil, hB)
		connB.Serve(p, nil)

		// A finishes now: it must not unregister or read fd number fdA.
		connA.Abort("test")
		time.Sleep(50 * time.Millisecond)

		b := &client{t: t, nc: cB, br: bufio.NewReader(cB)}
		b.send(true, wsproto.OpText, []byte("still mine"))
		cB.SetReadDeadline(time.Now().Add(5 * time.Second))
		f, err := b.read()
		if err != nil || string(f.data) != "still mine" {
			t.Fatalf("B (fd %d, once A's) got %q, %v: A's teardown took its registration", fdA, f.data, err)
		}
		connB.Close(1000, "")
		cA.Close()
		cB.Close()
		return
	}
}

// pollerAndListener returns a poller of its own (one worker) and a
// loopback listener, both closed when the test ends. On Linux a poller
// must start: failing to is a failure, not a reason to skip.
func pollerAndListener(t *testing.T) (*netpoll.Poller, net.Listener) {
	t.Helper()
	p, err := netpoll.New(netpoll.Config{Workers: 1})
	if err != nil {
		t.Fatalf("poller: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return p, ln
}
