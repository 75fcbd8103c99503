package main

import guest "github.com/edgews/edgews/guest-sdk"

func init() {
	guest.Register(guest.Handlers{
		Inbound:  func(m guest.Message) error { return guest.Deliver(m.Binary, m.Data) },
		Outbound: func(m guest.Message) error { return guest.WriteFrame(m.Binary, m.Data) },
	})
}

func main() {}
