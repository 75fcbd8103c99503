package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort lets the kernel choose the source port at connect time
// instead of at bind time, so each source address has its ephemeral ports
// per destination rather than in total, and TIME_WAIT ports can be reused
// on loopback (net.ipv4.tcp_tw_reuse).
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// raiseNofile raises the soft open-file limit to the hard limit and
// returns the new soft limit. Children inherit it.
func raiseNofile() (uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
			return 0, err
		}
	}
	return r.Cur, nil
}

// childAttr makes a started target die with the bench process.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
