package wasmhost

import (
	"context"
	"sync"
)

// pool holds a module's instances: a stack of idle ones and a count of
// slots in which more may be created, together never more than the bound.
// The fast path is a mutex and a slice (cheaper than a channel round trip);
// a call that finds neither an idle instance nor a free slot waits on wake
// until one is put back or released, or its context is done.
type pool struct {
	mu      sync.Mutex
	free    []*instance
	slots   int
	waiters int
	wake    chan struct{}
}

func (p *pool) init(n int) {
	p.free = make([]*instance, 0, n)
	p.slots = n
	p.wake = make(chan struct{}, n)
}

// get returns an idle instance, or creates one if a slot is free, or waits
// for either until ctx is done.
func (p *pool) get(ctx context.Context, m *Module) (*instance, error) {
	p.mu.Lock()
	for {
		if n := len(p.free); n > 0 {
			inst := p.free[n-1]
			p.free[n-1] = nil
			p.free = p.free[:n-1]
			p.mu.Unlock()
			return inst, nil
		}
		if p.slots > 0 {
			p.slots--
			p.mu.Unlock()
			inst, err := m.newInstance(ctx)
			if err != nil {
				p.release()
				return nil, err
			}
			return inst, nil
		}
		p.waiters++
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-ctx.Done():
			p.mu.Lock()
			p.waiters--
			p.mu.Unlock()
			return nil, ctx.Err()
		}
		p.mu.Lock()
		p.waiters--
	}
}

// signal wakes one waiter, if any; called with mu held.
func (p *pool) signal() {
	if p.waiters > 0 {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// put returns a healthy instance.
func (p *pool) put(inst *instance) {
	p.mu.Lock()
	p.free = append(p.free, inst)
	p.signal()
	p.mu.Unlock()
}

// release gives back the slot of an instance that was thrown away (or
// never created).
func (p *pool) release() {
	p.mu.Lock()
	p.slots++
	p.signal()
	p.mu.Unlock()
}

func (p *pool) idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// drain empties the pool; only when no call is in flight.
func (p *pool) drain() []*instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.free
	p.free = nil
	return out
}
