package autobahn

import (
	"net"
	"sync"
	"time"
)

// transport owns the writing side of one TCP connection. The case's event
// loop never blocks on the network: it queues writes here, and a goroutine
// writes them in order, like the buffered transport of the official client.
//
// Writes queued with sync set are written one by one with a short pause
// after each, so that the server sees them as separate TCP segments (the
// official client re-enters its reactor between them). Consecutive writes
// without sync are coalesced into one write call.
type transport struct {
	conn  net.Conn
	pause time.Duration

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []writeItem
	closing bool
	abort   bool

	done chan struct{} // closed when the writer goroutine has stopped
	errc chan error    // the first write error, if any
}

type writeItem struct {
	data []byte
	sync bool
}

func newTransport(conn net.Conn, pause time.Duration) *transport {
	t := &transport{
		conn:  conn,
		pause: pause,
		done:  make(chan struct{}),
		errc:  make(chan error, 1),
	}
	t.cond = sync.NewCond(&t.mu)
	go t.writeLoop()
	return t
}

// write queues p. The caller must not modify p afterwards.
func (t *transport) write(p []byte, sync bool) {
	t.mu.Lock()
	if !t.closing {
		t.queue = append(t.queue, writeItem{data: p, sync: sync})
		t.cond.Signal()
	}
	t.mu.Unlock()
}

// close stops the transport. With abort, queued data is discarded and the
// connection is reset at once; without, queued data is written first.
func (t *transport) close(abort bool) {
	t.mu.Lock()
	if t.closing && !(abort && !t.abort) {
		t.mu.Unlock()
		return
	}
	t.closing = true
	t.abort = t.abort || abort
	t.cond.Broadcast()
	t.mu.Unlock()
	if abort {
		resetConn(t.conn)
	}
}

// wait waits until queued data is written (or the deadline passes) and
// closes the connection.
func (t *transport) wait(deadline time.Duration) {
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case <-t.done:
	case <-timer.C:
		t.close(true)
		<-t.done
	}
	_ = t.conn.Close()
}

func (t *transport) writeLoop() {
	defer close(t.done)
	var batch []byte
	for {
		t.mu.Lock()
		for len(t.queue) == 0 && !t.closing {
			t.cond.Wait()
		}
		if t.abort || len(t.queue) == 0 {
			t.mu.Unlock()
			return
		}
		item := t.queue[0]
		t.queue[0] = writeItem{}
		t.queue = t.queue[1:]
		data := item.data
		if !item.sync {
			// Coalesce the run of unsynchronised writes that follows.
			batch = append(batch[:0], data...)
			for len(t.queue) > 0 && !t.queue[0].sync {
				batch = append(batch, t.queue[0].data...)
				t.queue[0] = writeItem{}
				t.queue = t.queue[1:]
			}
			data = batch
		}
		t.mu.Unlock()

		if _, err := t.conn.Write(data); err != nil {
			t.errc <- err
			return
		}
		if cap(batch) > 1<<20 {
			batch = nil // do not keep huge buffers around
		}
		if item.sync && t.pause > 0 {
			time.Sleep(t.pause)
		}
	}
}

// resetConn closes c so that the peer sees a reset rather than an orderly
// shutdown, like an aborted connection in the official client.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
