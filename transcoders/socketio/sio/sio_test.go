package sio

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePacket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Packet
		err  error
	}{
		// The examples of the protocol's Readme (revisions 4 and 5).
		{"0", Packet{Type: Connect, Namespace: "/", ID: NoID}, nil},
		{"0/admin,", Packet{Type: Connect, Namespace: "/admin", ID: NoID}, nil},
		{`0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, Packet{Type: Connect, Namespace: "/admin", ID: NoID, Data: []byte(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}, nil},
		{`4{"message":"Not authorized"}`, Packet{Type: ConnectError, Namespace: "/", ID: NoID, Data: []byte(`{"message":"Not authorized"}`)}, nil},
		{`4/admin,"Not authorized"`, Packet{Type: ConnectError, Namespace: "/admin", ID: NoID, Data: []byte(`"Not authorized"`)}, nil},
		{`2["foo"]`, Packet{Type: Event, Namespace: "/", ID: NoID, Data: []byte(`["foo"]`)}, nil},
		{`2/admin,["bar"]`, Packet{Type: Event, Namespace: "/admin", ID: NoID, Data: []byte(`["bar"]`)}, nil},
		{`212["foo"]`, Packet{Type: Event, Namespace: "/", ID: 12, Data: []byte(`["foo"]`)}, nil},
		{`3/admin,13["bar"]`, Packet{Type: Ack, Namespace: "/admin", ID: 13, Data: []byte(`["bar"]`)}, nil},
		{`3/admin,456[]`, Packet{Type: Ack, Namespace: "/admin", ID: 456, Data: []byte(`[]`)}, nil},
		{"1", Packet{Type: Disconnect, Namespace: "/", ID: NoID}, nil},
		{"1/admin,", Packet{Type: Disconnect, Namespace: "/admin", ID: NoID}, nil},
		{`51-["baz",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Attachments: 1, Namespace: "/", ID: NoID, Data: []byte(`["baz",{"_placeholder":true,"num":0}]`)}, nil},
		{`61-15["bar",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryAck, Attachments: 1, Namespace: "/", ID: 15, Data: []byte(`["bar",{"_placeholder":true,"num":0}]`)}, nil},
		// Revision 4 CONNECT with a query, a namespace without comma,
		// leading zeros in an id.
		{"0/admin?token=abc,", Packet{Type: Connect, Namespace: "/admin", Query: "token=abc", ID: NoID}, nil},
		{"0/admin", Packet{Type: Connect, Namespace: "/admin", ID: NoID}, nil},
		{`2007["x"]`, Packet{Type: Event, Namespace: "/", ID: 7, Data: []byte(`["x"]`)}, nil},
		// Refusals.
		{"", Packet{}, ErrPacket},
		{"7", Packet{}, ErrPacket},
		{"x", Packet{}, ErrPacket},
		{`5["x"]`, Packet{}, ErrPacket},
		{`2`, Packet{}, ErrPayload},
		{`2[]`, Packet{}, ErrPayload},
		{`2[1]`, Packet{}, ErrPayload},
		{`2{"a":1}`, Packet{}, ErrPayload},
		{`2["a"`, Packet{}, ErrPayload},
		{`3{}`, Packet{}, ErrPayload},
		{`1{}`, Packet{}, ErrPayload},
		{`0[]`, Packet{}, ErrPayload},
		{`299999999999999999["x"]`, Packet{}, ErrPacket},
		// Event names the reference parser reserves, also when escaped.
		{`2["disconnect"]`, Packet{}, ErrPayload},
		{`2/admin,["connect",1]`, Packet{}, ErrPayload},
		{`2["newListener"]`, Packet{}, ErrPayload},
		{`51-["connect_error",{"_placeholder":true,"num":0}]`, Packet{}, ErrPayload},
		{`2["dis\u0063onnect"]`, Packet{}, ErrPayload},
		{`2["disconnected"]`, Packet{Type: Event, Namespace: "/", ID: NoID, Data: []byte(`["disconnected"]`)}, nil},
	}
	for _, tc := range tests {
		got, err := ParsePacket([]byte(tc.in))
		if err != tc.err {
			t.Errorf("ParsePacket(%q) err = %v, want %v", tc.in, err, tc.err)
			continue
		}
		got.Elems = nil
		if err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePacket(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestAppendPacket(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "0/admin,", `0/admin,{"sid":"x"}`, `2["foo"]`, `212["foo"]`, `3/admin,13["bar"]`, "1/admin,", `51-["baz",{"_placeholder":true,"num":0}]`} {
		p, err := ParsePacket([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(AppendPacket(nil, p)); got != s {
			t.Errorf("AppendPacket(ParsePacket(%q)) = %q", s, got)
		}
	}
}

func TestListenerJSON(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`2["chat","hi",{"a":[1,2]}]`, `{"namespace":"/","event":"chat","args":["hi",{"a":[1,2]}]}`},
		{`2/admin,7["ev"]`, `{"namespace":"/admin","event":"ev","args":[],"ack":7}`},
		{`2[ "sp" , 1 , null ]`, `{"namespace":"/","event":"sp","args":[1,null]}`},
		{`3/admin,13["bar",2]`, `{"namespace":"/admin","ack":13,"args":["bar",2]}`},
		{`33[]`, `{"namespace":"/","ack":3,"args":[]}`},
	}
	for _, tc := range tests {
		p, err := ParsePacket([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		if p.Type == Event {
			got, err = AppendListenerEvent(nil, &p)
		} else {
			got, err = AppendListenerAck(nil, &p)
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s -> %s, %v; want %s", tc.in, got, err, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s is not valid JSON", got)
		}
	}
}

func TestEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // the packet, or "" for not an envelope
	}{
		{`{"namespace":"/","event":"news","args":["a",1]}`, `2["news","a",1]`},
		{`{"event":"news"}`, `2["news"]`},
		{`{"event":"q","args":[],"ack":5}`, `25["q"]`},
		{`{"namespace":"/admin","event":"e","args":[{"x":true}],"ack":0}`, `2/admin,0["e",{"x":true}]`},
		{`{"namespace":"/","ack":12,"args":["ok"]}`, `312["ok"]`},
		{`{"ack":3}`, `33[]`},
		{` {"event":"e","extra":1} `, `2["e"]`},
		{`{"namespace":"/admin","ack":4,"args":[]}`, `3/admin,4[]`},
		// Not envelopes: plain text, other JSON, wrong types.
		{`hello`, ""},
		{`[1,2]`, ""},
		{`{"foo":1}`, ""},
		{`{"event":1}`, ""},
		{`{"event":"e","args":"x"}`, ""},
		{`{"ack":-1}`, ""},
		{`{"ack":1.5}`, ""},
		{`{"event":"e","namespace":"admin"}`, ""},
		{`{"event":"e","namespace":"/a,b"}`, ""},
		{`{"event":"e"`, ""},
	}
	for _, tc := range tests {
		e, ok := ParseEnvelope([]byte(tc.in))
		if ok != (tc.want != "") {
			t.Errorf("ParseEnvelope(%s) ok = %v", tc.in, ok)
			continue
		}
		if ok {
			if got := string(AppendEnvelope(nil, e)); got != tc.want {
				t.Errorf("%s -> %s, want %s", tc.in, got, tc.want)
			}
		}
	}
	if got := string(AppendMessageEvent(nil, "/", []byte("a \"quoted\"\n\u2028 text"))); got != `2["message","a \"quoted\"\n\u2028 text"]` {
		t.Errorf("message event = %s", got)
	}
}

func TestJSONAgainstEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		`null`, `true`, `0`, `-0.5e+3`, `01`, `1.`, `.5`, `"a\u00e9\ud83d\ude00"`, `"\ud800"`, `"bad \x"`, "\"tab\there\"",
		`[1,[2,[3]]]`, `{"a":1,"b":[true,false,null]}`, `{"a" 1}`, `[1,]`, `{"a":1,}`, ` [ ] `, `"\u12"`, "\"\xff\"",
		strings.Repeat("[", 300) + strings.Repeat("]", 300),
	} {
		want := json.Valid([]byte(s))
		got := Valid([]byte(s))
		if strings.HasPrefix(s, "[[[[") || !utf8.ValidString(s) {
			want = false // deeper than maxDepth, or not UTF-8: refused on purpose
		}
		if got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
	for _, s := range []string{`"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u0022\u005c"`, `"\ud83d\ude00"`, `"\ud800x"`, `"\udc00"`} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		got, err := Unquote([]byte(s))
		if err != nil || got != want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", s, got, err, want)
		}
	}
}

func FuzzParsePacket(f *testing.F) {
	for _, s := range []string{"0", "0/admin,", `2["foo",1]`, `212["foo"]`, `3/admin,13["bar"]`, `51-["b",{"_placeholder":true,"num":0}]`, "0/a?x=1,", `4"err"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			return
		}
		// What parses re-encodes to something that parses the same.
		q, err := ParsePacket(AppendPacket(nil, stripQuery(p)))
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", AppendPacket(nil, p), err)
		}
		if q.Type != p.Type || q.Namespace != p.Namespace || q.ID != p.ID || string(trim(q.Data)) != string(trim(p.Data)) {
			t.Fatalf("round trip: %+v -> %+v", p, q)
		}
		var out []byte
		switch p.Type {
		case Event:
			out, err = AppendListenerEvent(nil, &p)
		case Ack:
			out, err = AppendListenerAck(nil, &p)
		default:
			return
		}
		if err == nil && !json.Valid(out) {
			t.Fatalf("listener JSON %s is invalid", out)
		}
	})
}

func stripQuery(p Packet) Packet {
	p.Query = ""
	if strings.ContainsAny(p.Namespace, ",") {
		p.Namespace = "/"
	}
	return p
}

func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null]}`, `"\ud83d\ude00"`, `[`, `1e5`, `"\u0000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Valid(b)
		if want := json.Valid(b); got != want && !(want && (depth(b) > maxDepth || !utf8.Valid(b))) {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
		if got && len(trim(b)) > 0 && trim(b)[0] == '"' {
			var want string
			_ = json.Unmarshal(b, &want)
			if s, err := Unquote(trim(b)); err != nil || s != want {
				t.Fatalf("Unquote(%q) = %q, %v; want %q", b, s, err, want)
			}
		}
		if e, ok := ParseEnvelope(b); ok {
			if out := AppendEnvelope(nil, e); !json.Valid(out[bytesIndex(out, '['):]) {
				t.Fatalf("envelope packet %s has invalid JSON", out)
			}
		}
		s := string(b)
		if q := AppendQuote(nil, s); !json.Valid(q) || (utf8.ValidString(s) && unquoted(q) != s) {
			t.Fatalf("AppendQuote(%q) = %s", s, q)
		}
	})
}

func depth(b []byte) int {
	d, m := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			d++
			m = max(m, d)
		case ']', '}':
			d--
		}
	}
	return m
}

func bytesIndex(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return len(b)
}

func unquoted(q []byte) string {
	var s string
	_ = json.Unmarshal(q, &s)
	return s
}

// TestPlain8 checks the word-at-a-time test against the byte-wise rule for
// every byte value at every position, next to plain and to special bytes.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	for _, fill := range []byte{'a', ' ', '~', 0x1f, 0x80, '"', '\\', 0xff, 0} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(c)
				want := true
				for _, b := range w {
					want = want && plain(b)
				}
				if got := plain8(load8(w[:])); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", w[:], got, want)
				}
			}
		}
	}
}
