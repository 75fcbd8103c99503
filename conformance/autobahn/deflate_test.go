package autobahn

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestOfferString(t *testing.T) {
	t.Parallel()
	o := defaultOffer()
	if got, want := o.String(), "permessage-deflate; client_no_context_takeover; client_max_window_bits"; got != want {
		t.Errorf("default offer = %q, want %q", got, want)
	}
	o.requestNoContextTakeover, o.requestMaxWindowBits = true, 9
	if got, want := o.String(), "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9"; got != want {
		t.Errorf("offer = %q, want %q", got, want)
	}
}

func TestParseExtensions(t *testing.T) {
	t.Parallel()
	got := parseExtensions(` Permessage-Deflate ; Server_Max_Window_Bits="10"; client_no_context_takeover, x-other, ,foo;a=b=c`)
	want := []extension{
		{name: "permessage-deflate", params: []extParam{{key: "server_max_window_bits", value: "10"}, {key: "client_no_context_takeover", flag: true}}},
		{name: "x-other"},
		{name: "foo", params: []extParam{{key: "a", value: "b=c"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseExtensions:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseDeflateResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header string
		want   deflateResponse
		ok     bool
	}{
		{"permessage-deflate", deflateResponse{}, true},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", deflateResponse{serverNoContextTakeover: true, clientNoContextTakeover: true}, true},
		{"permessage-deflate; server_max_window_bits=9; client_max_window_bits=15", deflateResponse{serverMaxWindowBits: 9, clientMaxWindowBits: 15}, true},
		{"permessage-deflate; client_max_window_bits", deflateResponse{}, false}, // a response must give the value
		{"permessage-deflate; server_max_window_bits=7", deflateResponse{}, false},
		{"permessage-deflate; server_max_window_bits=16", deflateResponse{}, false},
		{"permessage-deflate; server_no_context_takeover=1", deflateResponse{}, false},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", deflateResponse{}, false},
		{"permessage-deflate; mystery", deflateResponse{}, false},
	} {
		got, err := parseDeflateResponse(parseExtensions(tc.header)[0].params)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok %v", tc.header, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, errBadDeflateParam) {
			t.Errorf("%q: err = %v, want errBadDeflateParam", tc.header, err)
		}
		if tc.ok && got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.header, got, tc.want)
		}
	}
}

// TestCodecRoundTrip compresses messages with one codec and inflates them
// with another that plays the server's part for the same parameters.
func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	msg := genJSON(10000)
	for _, resp := range []deflateResponse{
		{},
		{clientNoContextTakeover: true, serverNoContextTakeover: true},
		{clientMaxWindowBits: 9},
		{clientMaxWindowBits: 9, clientNoContextTakeover: true},
	} {
		client := newDeflateCodec(resp)
		// The server inflates client messages: its history follows the
		// client's context setting.
		server := newDeflateCodec(deflateResponse{serverNoContextTakeover: resp.clientNoContextTakeover})
		var sizes []int
		for i := range 3 {
			z, err := client.compress(msg)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasSuffix(z, []byte{0, 0, 0xff, 0xff}) {
				t.Errorf("%+v: message %d keeps the sync marker", resp, i)
			}
			out, err := server.decompress(z)
			if err != nil {
				t.Fatalf("%+v: message %d: %v", resp, i, err)
			}
			if !bytes.Equal(out, msg) {
				t.Fatalf("%+v: message %d does not round-trip", resp, i)
			}
			sizes = append(sizes, len(z))
		}
		// With a 32 KiB window and context takeover, a repeated message
		// compresses to almost nothing.
		if resp == (deflateResponse{}) && sizes[1]*5 > sizes[0] {
			t.Errorf("context takeover: sizes %v, want the second much smaller", sizes)
		}
		if resp.clientNoContextTakeover && sizes[1] != sizes[0] {
			t.Errorf("no context takeover: sizes %v, want equal", sizes)
		}
	}
}

func TestDecompressRejectsGarbage(t *testing.T) {
	t.Parallel()
	c := newDeflateCodec(deflateResponse{})
	if _, err := c.decompress([]byte{0xff, 0xff, 0xff, 0xff}); !errors.Is(err, errInflate) {
		t.Errorf("err = %v, want errInflate", err)
	}
}

func FuzzDeflateResponse(f *testing.F) {
	f.Add("permessage-deflate; server_max_window_bits=10; client_no_context_takeover")
	f.Add(`permessage-deflate;client_max_window_bits="9", x`)
	f.Fuzz(func(t *testing.T, header string) {
		for _, e := range parseExtensions(header) {
			r, err := parseDeflateResponse(e.params)
			if err != nil {
				continue
			}
			for _, bits := range []int{r.clientMaxWindowBits, r.serverMaxWindowBits} {
				if bits != 0 && (bits < 8 || bits > 15) {
					t.Fatalf("%q: accepted window bits %d", header, bits)
				}
			}
			c := newDeflateCodec(r)
			if _, err := c.compress([]byte(header)); err != nil {
				t.Fatalf("%q: compress: %v", header, err)
			}
		}
	})
}

func FuzzDecompress(f *testing.F) {
	c := newDeflateCodec(deflateResponse{})
	z, _ := c.compress([]byte("Hello, world! Hello, world!"))
	f.Add(z, true)
	f.Add([]byte{0x01, 0x00, 0x00, 0xff, 0xff}, false)
	f.Fuzz(func(t *testing.T, p []byte, context bool) {
		d := newDeflateCodec(deflateResponse{serverNoContextTakeover: !context})
		for range 2 {
			out, err := d.decompress(p)
			if err == nil && len(out) > 64<<20 {
				t.Fatalf("implausible output of %d octets", len(out))
			}
		}
	})
}
