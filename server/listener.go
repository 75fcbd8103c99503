package server

// Listener receives socket events. Callbacks run on the socket's read path
// (OnMessage, OnClose) or the upgrade path (OnConnect), one at a time per
// socket, in order: OnConnect, then OnMessage calls, then OnClose once.
// They must not block: a slow listener delays its socket's input. Keep
// the *Socket to talk to it later; do not keep Message.Data past the call.
type Listener interface {
	OnConnect(s *Socket)
	OnMessage(s *Socket, m Message)
	OnClose(s *Socket, code uint16, reason string)
}

// ListenerFuncs is a Listener made of optional functions.
type ListenerFuncs struct {
	Connect func(s *Socket)
	Message func(s *Socket, m Message)
	Close   func(s *Socket, code uint16, reason string)
}

var _ Listener = ListenerFuncs{}

// OnConnect calls Connect if set.
func (f ListenerFuncs) OnConnect(s *Socket) {
	if f.Connect != nil {
		f.Connect(s)
	}
}

// OnMessage calls Message if set.
func (f ListenerFuncs) OnMessage(s *Socket, m Message) {
	if f.Message != nil {
		f.Message(s, m)
	}
}

// OnClose calls Close if set.
func (f ListenerFuncs) OnClose(s *Socket, code uint16, reason string) {
	if f.Close != nil {
		f.Close(s, code, reason)
	}
}

// AddListener registers l for events of sockets accepted from now on and of
// open sockets' later messages and closes.
func (s *Server) AddListener(l Listener) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	old := s.listeners.Load()
	next := make([]Listener, 0, len(*old)+1)
	next = append(next, *old...)
	next = append(next, l)
	s.listeners.Store(&next)
}
