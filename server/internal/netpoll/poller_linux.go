//go:build linux

package netpoll

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Registration states.
const (
	stIdle    int32 = iota // waiting for an edge
	stQueued               // handed to a worker, not yet running
	stRunning              // OnReadable is running
	stAgain                // running, and another edge arrived
)

// Desc is one registered file descriptor.
type Desc struct {
	p       *Poller
	fd      int
	gen     uint32
	h       Handler
	state   atomic.Int32
	removed atomic.Bool
}

// Poller is an epoll instance with a worker pool.
type Poller struct {
	epfd    int
	wakeFd  int
	cfg     Config
	queue   chan *Desc
	idle    atomic.Int32 // workers waiting for an event
	bufPool sync.Pool
	gen     atomic.Uint32
	closed  atomic.Bool
	done    chan struct{} // closed when the event loop has exited
	stop    chan struct{} // closed by Close: workers exit

	mu     sync.Mutex
	chunks [maxChunks]atomic.Pointer[chunk]
}

const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	maxChunks = 1 << (22 - chunkBits) // fds up to 4M
)

type chunk [chunkSize]atomic.Pointer[Desc]

// New starts a poller.
func New(cfg Config) (*Poller, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 4 * runtime.GOMAXPROCS(0)
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 32 << 10
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netpoll: epoll_create1: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("netpoll: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd), Pad: -1}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return nil, fmt.Errorf("netpoll: epoll_ctl wake: %w", err)
	}
	p := &Poller{
		epfd:   epfd,
		wakeFd: wfd,
		cfg:    cfg,
		// An event goes to the workers only while one of them is idle;
		// otherwise it gets a goroutine of its own at once, so a slow
		// listener or transcoder on some sockets never delays the others.
		queue: make(chan *Desc, cfg.Workers),
		done:  make(chan struct{}),
		stop:  make(chan struct{}),
	}
	p.bufPool.New = func() any { b := make([]byte, cfg.BufferSize); return &b }
	for range cfg.Workers {
		go p.worker()
	}
	go p.loop()
	return p, nil
}

// Add registers fd. The first OnReadable may run before Add returns; use
// Prepare and Arm when the handler needs its *Desc before that.
func (p *Poller) Add(fd int, h Handler) (*Desc, error) {
	d, err := p.Prepare(fd, h)
	if err != nil {
		return nil, err
	}
	return d, d.Arm()
}

// Prepare creates the registration of fd without arming it: no event is
// delivered until Arm.
func (p *Poller) Prepare(fd int, h Handler) (*Desc, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	if fd < 0 || fd >= maxChunks*chunkSize {
		return nil, fmt.Errorf("netpoll: fd %d out of range", fd)
	}
	return &Desc{p: p, fd: fd, gen: p.gen.Add(1), h: h}, nil
}

// Arm publishes the registration and starts delivering events. Everything
// the caller wrote before Arm is visible to the handler.
func (d *Desc) Arm() error {
	p := d.p
	p.slot(d.fd, true).Store(d)
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(d.fd),
		Pad:    int32(d.gen),
	}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, d.fd, &ev); err != nil {
		p.slot(d.fd, false).CompareAndSwap(d, nil)
		return fmt.Errorf("netpoll: epoll_ctl add fd %d: %w", d.fd, err)
	}
	return nil
}

// Remove unregisters the fd. Call it before closing the fd. It is
// idempotent; a Trigger after Remove still runs the handler once more.
func (d *Desc) Remove() {
	if !d.removed.CompareAndSwap(false, true) {
		return
	}
	_ = unix.EpollCtl(d.p.epfd, unix.EPOLL_CTL_DEL, d.fd, nil)
	d.clearSlot()
}

// Forget unregisters without touching epoll, for an fd that was closed
// while registered: the kernel dropped the registration with the fd, and
// the number may already belong to another connection, whose
// registration EPOLL_CTL_DEL would remove. Idempotent, like Remove.
func (d *Desc) Forget() {
	if d.removed.CompareAndSwap(false, true) {
		d.clearSlot()
	}
}

func (d *Desc) clearSlot() {
	if s := d.p.slot(d.fd, false); s != nil {
		s.CompareAndSwap(d, nil)
	}
}

// Trigger schedules the handler as if its fd were readable.
func (d *Desc) Trigger() { d.p.schedule(d) }

// FD returns the registered file descriptor.
func (d *Desc) FD() int { return d.fd }

func (p *Poller) slot(fd int, create bool) *atomic.Pointer[Desc] {
	ci := fd >> chunkBits
	c := p.chunks[ci].Load()
	if c == nil {
		if !create {
			return nil
		}
		p.mu.Lock()
		if c = p.chunks[ci].Load(); c == nil {
			c = new(chunk)
			p.chunks[ci].Store(c)
		}
		p.mu.Unlock()
	}
	return &c[fd&(chunkSize-1)]
}

func (p *Poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 512)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for i := range n {
			ev := &events[i]
			if ev.Pad == -1 && int(ev.Fd) == p.wakeFd {
				if p.closed.Load() {
					return
				}
				continue
			}
			s := p.slot(int(ev.Fd), false)
			if s == nil {
				continue
			}
			if d := s.Load(); d != nil && d.gen == uint32(ev.Pad) {
				p.schedule(d)
			}
		}
	}
}

func (p *Poller) schedule(d *Desc) {
	for {
		switch s := d.state.Load(); s {
		case stIdle:
			if d.state.CompareAndSwap(stIdle, stQueued) {
				p.submit(d)
				return
			}
		case stRunning:
			if d.state.CompareAndSwap(stRunning, stAgain) {
				return
			}
		default: // queued, or already marked to run again
			return
		}
	}
}

func (p *Poller) submit(d *Desc) {
	if p.closed.Load() {
		go p.runSpawned(d)
		return
	}
	if p.idle.Load() > 0 {
		select {
		case p.queue <- d:
			return
		default:
		}
	}
	go p.runSpawned(d)
}

func (p *Poller) runSpawned(d *Desc) {
	growStack(0)
	bp := p.bufPool.Get().(*[]byte)
	p.run(d, *bp)
	p.bufPool.Put(bp)
}

func (p *Poller) worker() {
	buf := make([]byte, p.cfg.BufferSize)
	for {
		p.idle.Add(1)
		select {
		case d := <-p.queue:
			p.idle.Add(-1)
			p.run(d, buf)
		case <-p.stop:
			p.idle.Add(-1)
			return
		}
	}
}

func (p *Poller) run(d *Desc, buf []byte) {
	d.state.Store(stRunning)
	for {
		if d.h.OnReadable(buf) {
			// Yield: go to the back of the queue.
			d.state.Store(stQueued)
			p.submit(d)
			return
		}
		if d.state.CompareAndSwap(stRunning, stIdle) {
			return
		}
		d.state.Store(stRunning) // an edge arrived meanwhile: read again
	}
}

// Close stops the event loop and the workers. Registered descriptors are not
// closed; a Trigger after Close still runs its handler (on a temporary
// goroutine), so teardown on the read path keeps working.
func (p *Poller) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(p.wakeFd, one[:])
	<-p.done
	close(p.stop)
	unix.Close(p.wakeFd)
	return unix.Close(p.epfd)
}

// growStack makes a new goroutine's stack big enough for a handler at
// once, while it is two frames deep: a handler that runs a transcoder
// (wazero) goes deep, and growing the stack there, step by step with
// many frames to copy, cost about 12% of the server's CPU on a
// transcoder route.
//
//go:noinline
func growStack(i int) byte {
	var pad [24 << 10]byte
	pad[i] = byte(i)
	return pad[i/2]
}
