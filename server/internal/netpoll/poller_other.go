//go:build !linux

package netpoll

// Desc is one registered file descriptor (not available on this platform).
type Desc struct{}

// Remove is a no-op here.
func (d *Desc) Remove() {}

// Forget is a no-op here.
func (d *Desc) Forget() {}

// Trigger is a no-op here.
func (d *Desc) Trigger() {}

// FD returns -1 here.
func (d *Desc) FD() int { return -1 }

// Poller is not available on this platform.
type Poller struct{}

// New returns ErrUnsupported on this platform.
func New(Config) (*Poller, error) { return nil, ErrUnsupported }

// Add is never reached here (New fails).
func (p *Poller) Add(int, Handler) (*Desc, error) { return nil, ErrUnsupported }

// Prepare is never reached here (New fails).
func (p *Poller) Prepare(int, Handler) (*Desc, error) { return nil, ErrUnsupported }

// Arm is never reached here.
func (d *Desc) Arm() error { return ErrUnsupported }

// Close is a no-op here.
func (p *Poller) Close() error { return nil }
