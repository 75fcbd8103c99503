//go:build !linux

package bench

import "syscall"

func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }

func raiseNofile() (uint64, error) { return 0, nil }

func childAttr() *syscall.SysProcAttr { return nil }
