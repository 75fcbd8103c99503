package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	guest "github.com/edgews/edgews/guest-sdk"
)

var hoard [][]byte

//go:noinline
func recurse(n int) int {
	if n == 0 {
		return 1
	}
	return recurse(n-1) + recurse(n-1)
}

func inbound(m guest.Message) error {
	if m.Binary {
		return guest.Deliver(true, m.Data)
	}
	if arg, ok := strings.CutPrefix(string(m.Data), "spin "); ok {
		return spin(arg)
	}
	if arg, ok := strings.CutPrefix(string(m.Data), "emit "); ok {
		return emit(arg)
	}
	switch string(m.Data) {
	case "loop":
		for {
		}
	case "recurse":
		_ = recurse(64)
	case "bomb":
		for {
			hoard = append(hoard, make([]byte, 4<<20))
		}
	case "trap":
		var b byte
		p := (*byte)(unsafe.Add(unsafe.Pointer(&b), 0x7ff00000))
		return guest.Deliver(false, []byte{*p})
	case "badptr":
		rawDeliver(0, 0xffffff00, 4096)
		return nil
	case "flood":
		chunk := make([]byte, 64<<10)
		for {
			if err := guest.WriteFrame(true, chunk); err != nil {
				return err
			}
		}
	case "exit":
		os.Exit(3)
	case "panic":
		panic("hostile panic")
	case "error":
		return errors.New("hostile error")
	case "sleep":
		time.Sleep(time.Minute)
	case "print":
		for i := 0; i < 5; i++ {
			fmt.Println("hostile stdout line", i)
			fmt.Fprintln(os.Stderr, "hostile stderr line", i)
		}
	case "attrs":
		long := strings.Repeat("v", 300)
		if err := guest.SetAttrString("long", long); err != nil {
			return err
		}
		if err := guest.SetAttrString("short", "s"); err != nil {
			return err
		}
		l, ok1 := guest.AttrString("long")
		sh, ok2 := guest.AttrString("short")
		if err := guest.DeleteAttr("short"); err != nil {
			return err
		}
		_, ok3 := guest.Attr("short")
		_, ok4 := guest.Attr("missing")
		return guest.Deliver(false, []byte(fmt.Sprintf("%d %v %s %v %v %v", len(l), ok1 && l == long, sh, ok2, ok3, ok4)))
	case "timer":
		if err := guest.ArmTimer(7, 5*time.Second); err != nil {
			return err
		}
		if err := guest.ArmTimer(8, time.Second); err != nil {
			return err
		}
		return guest.CancelTimer(8)
	case "attrbomb":
		// Store 64 KiB values under new keys until the host refuses, then
		// show that freeing one makes room again.
		value := make([]byte, 64<<10)
		n := 0
		var err error
		for ; n < 1000; n++ {
			if err = guest.SetAttr(fmt.Sprintf("k%d", n), value); err != nil {
				break
			}
		}
		_ = guest.DeleteAttr("k0")
		again := guest.SetAttr(fmt.Sprintf("k%d", n), value)
		_, reserved := guest.Attr("wasmhost.attr_bytes")
		werr := guest.SetAttrString("wasmhost.attr_bytes", "0")
		return guest.Deliver(false, []byte(fmt.Sprintf("%d %v %v %v %v", n, err, again, reserved, werr)))
	case "timerid":
		return guest.Deliver(false, []byte(fmt.Sprint(guest.ArmTimer(256, time.Second))))
	case "close":
		return guest.Close(4000, "bye")
	case "badclose":
		err := guest.Close(1005, "reserved")
		return guest.Deliver(false, []byte(fmt.Sprint(err)))
	case "log":
		for _, l := range []uint32{guest.LevelDebug, guest.LevelInfo, guest.LevelWarn, guest.LevelError} {
			guest.Log(l, fmt.Sprintf("hostile log level %d", l))
		}
	}
	return guest.Deliver(false, m.Data)
}

// spin busy-waits for ms milliseconds of wall-clock time, then delivers
// "spun".
func spin(ms string) error {
	n, err := strconv.Atoi(ms)
	if err != nil {
		return err
	}
	end := time.Now().Add(time.Duration(n) * time.Millisecond)
	for time.Now().Before(end) {
	}
	return guest.Deliver(false, []byte("spun"))
}

// emit writes kib KiB of binary frames of at most 64 KiB each.
func emit(kib string) error {
	n, err := strconv.Atoi(kib)
	if err != nil {
		return err
	}
	chunk := make([]byte, 64<<10)
	for left := n << 10; left > 0; left -= len(chunk) {
		if err := guest.WriteFrame(true, chunk[:min(left, len(chunk))]); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	guest.Register(guest.Handlers{
		Init: func(config string) error {
			if config == "fail-init" {
				return errors.New("init refused by config")
			}
			return nil
		},
		Inbound: inbound,
		Timer: func(id uint32) error {
			return guest.Deliver(false, []byte(fmt.Sprintf("timer %d", id)))
		},
	})
}

func main() {}
