package wsconn

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/edgews/edgews/server/internal/wsproto"
)

// TestWriteBeforeServeLeavesNoDeadline: a frame written before Serve goes
// out through the writer goroutine, which sets a write deadline per batch;
// once the connection is served by epoll and writes inline, that deadline
// must not linger, or the first inline write after WriteTimeout fails.
//
// Regression (found by edgews bench: one /socket.io socket in a thousand
// dropped with cause write_error, "raw-write ... i/o timeout", since
// fixed): the writer cleared its deadline on exit only if the connection
// already wrote inline, which it does only once Serve has run. The
// socketio transcoder writes its open packet before Serve, so when the
// writer finished first the deadline stayed, and the socket was dropped
// at its first ping or push after write_timeout.
func TestWriteBeforeServeLeavesNoDeadline(t *testing.T) {
	p, ln := pollerAndListener(t)
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	cfg := baseConfig()
	cfg.WriteTimeout = 200 * time.Millisecond
	conn := New(sc, cfg, nil, newRecorder(false))
	cl := &client{t: t, nc: cc, br: bufio.NewReader(cc)}

	// Before Serve: the writer goroutine sends it, and is done once the
	// client has it (and the counter says so).
	if err := conn.Write(wsproto.OpText, []byte("open")); err != nil {
		t.Fatal(err)
	}
	if f := cl.expect(wsproto.OpText); string(f.data) != "open" {
		t.Fatalf("got %q", f.data)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		conn.mu.Lock()
		idle := !conn.writing
		conn.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never finished")
		}
	}
	conn.Serve(p, nil)
	if conn.rc == nil {
		t.Fatal("not served by epoll: the test needs inline writes")
	}
	time.Sleep(3 * cfg.WriteTimeout) // past any deadline the writer set
	if err := conn.Write(wsproto.OpText, []byte("later")); err != nil {
		t.Fatal(err)
	}
	if f := cl.expect(wsproto.OpText); string(f.data) != "later" {
		t.Fatalf("got %q", f.data)
	}
}
