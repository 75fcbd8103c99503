//go:build linux

package netpoll

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns a connected loopback TCP pair and the server side's fd.
func pair(t *testing.T) (client net.Conn, server *net.TCPConn, fd int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server = c.(*net.TCPConn)
	rc, err := server.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server, fd
}

// counter reads everything and counts bytes, checking that OnReadable is
// never run concurrently for the same registration.
type counter struct {
	fd      int
	total   atomic.Int64
	running atomic.Int32
	overlap atomic.Bool
	calls   atomic.Int64
	eof     atomic.Bool
}

func (c *counter) OnReadable(buf []byte) bool {
	if c.running.Add(1) != 1 {
		c.overlap.Store(true)
	}
	defer c.running.Add(-1)
	c.calls.Add(1)
	for {
		n, err := unix.Read(c.fd, buf)
		if n > 0 {
			c.total.Add(int64(n))
		}
		if errors.Is(err, syscall.EAGAIN) {
			return false
		}
		if n == 0 && err == nil {
			c.eof.Store(true)
			return false
		}
		if err != nil {
			return false
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPollerDeliversEveryByte(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Workers: 2, BufferSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	const conns, writes, size = 8, 200, 100
	var wg sync.WaitGroup
	counters := make([]*counter, conns)
	for i := range conns {
		client, _, fd := pair(t)
		c := &counter{fd: fd}
		counters[i] = c
		d, err := p.Add(fd, c)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			msg := make([]byte, size)
			for range writes {
				if _, err := client.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() { // spurious triggers must be harmless
			defer wg.Done()
			for range 500 {
				d.Trigger()
			}
		}()
	}
	wg.Wait()
	for i, c := range counters {
		waitFor(t, "all bytes", func() bool { return c.total.Load() == writes*size })
		if c.overlap.Load() {
			t.Fatalf("conn %d: OnReadable ran concurrently", i)
		}
	}
}

func TestPollerEOFAndRemove(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client, _, fd := pair(t)
	c := &counter{fd: fd}
	d, err := p.Add(fd, c)
	if err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("x"))
	waitFor(t, "data", func() bool { return c.total.Load() == 1 })
	client.Close()
	waitFor(t, "EOF", func() bool { return c.eof.Load() })

	d.Remove()
	d.Remove() // idempotent
	calls := c.calls.Load()
	d.Trigger() // still runs once after Remove (teardown path)
	waitFor(t, "trigger after remove", func() bool { return c.calls.Load() == calls+1 })
}

type yielder struct {
	fd    int
	calls atomic.Int64
	total atomic.Int64
}

// OnReadable reads one buffer at a time and asks to be called again.
func (y *yielder) OnReadable(buf []byte) bool {
	y.calls.Add(1)
	n, err := unix.Read(y.fd, buf)
	if n > 0 {
		y.total.Add(int64(n))
	}
	return err == nil && n == len(buf)
}

func TestPollerYield(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Workers: 1, BufferSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	client, _, fd := pair(t)
	y := &yielder{fd: fd}
	if _, err := p.Add(fd, y); err != nil {
		t.Fatal(err)
	}
	client.Write(make([]byte, 160))
	waitFor(t, "all bytes through yields", func() bool { return y.total.Load() == 160 })
	if y.calls.Load() < 10 {
		t.Fatalf("expected at least 10 calls, got %d", y.calls.Load())
	}
}

func TestPollerClose(t *testing.T) {
	t.Parallel()
	p, err := New(Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(3, &counter{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}
