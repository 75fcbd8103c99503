package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodeBulkSlow is what apiSendBulk does with a JSON array body when the
// fast path declines (decodeBody without the request context).
func decodeBulkSlow(body []byte) ([]SendRequest, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, false
	}
	var reqs []SendRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reqs); err != nil || dec.More() {
		return nil, false
	}
	return reqs, true
}

func TestBulkDecodeFast(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool // the fast path takes it
	}{
		{`[{"context":"1","user":"alice","message":"a"},{"context":"1","user":"bob","message_base64":"AAE="}]`, true},
		{" [ { \"context\" : \"1\" , \"user\" : \"u\" , \"message\" : \"grüße ✓\" , \"local\" : true , \"path\" : \"/ws\" } ]\n", true},
		{`[]`, true},
		{`[{}]`, true},
		{`[{"user":"a","user":"b","message":"x"}]`, true}, // the last one wins, as in encoding/json
		{`[{"context":"1","user":"a","message":"tab\there"}]`, false},
		{`[{"Context":"1","user":"a","message":"x"}]`, false},
		{`[{"context":"1","user":"a","message":"x","extra":1}]`, false},
		{`[{"context":1,"user":"a","message":"x"}]`, false},
		{`[null]`, false},
		{`{"context":"1"}`, false},
		{`[{"context":"1"}] trailing`, false},
		{`[{"context":"1",}]`, false},
		{"[{\"context\":\"\xff\"}]", false},
		{"[{\"context\":\"a\x01\"}]", false},
		{`[{"local":truex}]`, false},
		{``, false},
	} {
		fast, ok := decodeBulkFast([]byte(tc.body))
		if ok != tc.fast {
			t.Errorf("%q: fast path took it: %v, want %v", tc.body, ok, tc.fast)
			continue
		}
		if ok {
			slow, sok := decodeBulkSlow([]byte(tc.body))
			if !sok || !reflect.DeepEqual(fast, slow) {
				t.Errorf("%q: fast %+v, encoding/json %+v (%v)", tc.body, fast, slow, sok)
			}
		}
	}
}

// FuzzBulkDecodeFast: whatever the fast path accepts, encoding/json
// decodes to exactly the same requests.
func FuzzBulkDecodeFast(f *testing.F) {
	for _, s := range []string{
		`[{"context":"1","user":"alice","message":"a"},{"context":"1","user":"bob","message_base64":"AAE="}]`,
		`[{"context":"1","user":"u","message":"grüße","local":false,"path":"/a/*"}, {}]`,
		`[{"user":"a","user":"b"}]`,
		`[{"context":"1","user":"a","message":"x"}]]`,
		"[{\"message\":\"\\u00e9\"}]",
		`[ ]`,
		`{"context":"1","user":"alice","message":"one line"}`,
		` {"local":true} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, ok := decodeSendLineFast(body); ok {
			// An NDJSON line: the slow path decodes one object.
			var want SendRequest
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil || !reflect.DeepEqual(r, want) {
				t.Fatalf("line %q: fast %+v, encoding/json %+v (%v)", body, r, want, err)
			}
		}
		fast, ok := decodeBulkFast(body)
		if !ok {
			return
		}
		slow, sok := decodeBulkSlow(body)
		if !sok {
			t.Fatalf("%q: the fast path accepted what encoding/json refuses", body)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", body, fast, slow)
		}
	})
}
