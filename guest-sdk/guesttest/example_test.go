//go:build !wasip1

package guesttest_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	guest "github.com/edgews/edgews/guest-sdk"
	"github.com/edgews/edgews/guest-sdk/guesttest"
)

// The transcoder of the guest package's doc example: upper-cases text in
// both directions and counts messages per socket in an attribute. In a
// real module this init is in the transcoder's main package.
func init() {
	guest.Register(guest.Handlers{
		Open: func(info guest.OpenInfo) error {
			return guest.SetAttrString("count", "0")
		},
		Inbound: func(m guest.Message) error {
			n, _ := guest.AttrString("count")
			c, _ := strconv.Atoi(n)
			if err := guest.SetAttrString("count", strconv.Itoa(c+1)); err != nil {
				return err
			}
			if string(m.Data) == "later" {
				return guest.ArmTimer(1, time.Second)
			}
			if m.Binary {
				return guest.Deliver(true, m.Data)
			}
			return guest.Deliver(false, bytes.ToUpper(m.Data))
		},
		Outbound: func(m guest.Message) error {
			if m.Binary {
				return guest.WriteFrame(true, m.Data)
			}
			return guest.WriteFrame(false, bytes.ToUpper(m.Data))
		},
		Timer: func(id uint32) error {
			return guest.WriteText("timer " + strconv.Itoa(int(id)))
		},
	})
}

func Example() {
	h, err := guesttest.TryNew("")
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = h.Open(guesttest.OpenInfo{SocketID: "s1"})
	_ = h.Inbound(false, []byte("hi"))
	_ = h.Outbound(false, []byte("news"))
	count, _ := h.Attr("count")
	fmt.Println(h.Deliveries(), h.Frames(), string(count))
	// Output: [text "HI"] [text "NEWS"] 1
}

func TestTimersOnAVirtualClock(t *testing.T) {
	t.Parallel()
	h := guesttest.New(t, "")
	if err := h.Open(guesttest.OpenInfo{}); err != nil {
		t.Fatal(err)
	}
	if err := h.Inbound(false, []byte("later")); err != nil {
		t.Fatal(err)
	}
	if got := h.Timers(); got[1] != time.Second {
		t.Fatalf("timers = %v", got)
	}
	if err := h.Advance(999 * time.Millisecond); err != nil || len(h.Frames()) != 0 {
		t.Fatalf("fired early: %v %v", h.Frames(), err)
	}
	if err := h.Advance(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if f := h.TakeFrames(); len(f) != 1 || string(f[0].Data) != "timer 1" || len(h.TimerIDs()) != 0 {
		t.Fatalf("frames = %v, timers %v", f, h.TimerIDs())
	}
	if err := h.Close(1000, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.Outbound(false, []byte("x")); err == nil {
		t.Fatal("a frame after close was accepted")
	}
}
