package gossip

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/edgews/edgews/gossip/internal/hmacauth"
	"github.com/edgews/edgews/gossip/internal/wire"
)

const otherKey = "b3RoZXIgMzIgYnl0ZSBrZXkgZm9yIHRoZSB0ZXN0cyE=" // 32 bytes, not testKey

// TestWrongKeyCannotJoin checks that a node with another key, or with none,
// cannot join an encrypted cluster.
func TestWrongKeyCannotJoin(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("wk-a", "127.0.0.1"))
	for _, key := range []string{otherKey, ""} {
		cfg := testConfig("wk-x", "127.0.0.2")
		cfg.EncryptKey = key
		x := startNode(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		k, err := x.Join(ctx, a.GossipAddr())
		cancel()
		if !errors.Is(err, ErrJoin) || k != 0 {
			t.Fatalf("join with key %q = %d, %v; want ErrJoin", key, k, err)
		}
		if len(a.Members()) != 1 || len(x.Members()) != 1 {
			t.Fatalf("members after a refused join: %d and %d, want 1 each", len(a.Members()), len(x.Members()))
		}
		x.Shutdown()
	}
	if m := a.Metrics(); m.MemberJoins != 0 {
		t.Fatalf("MemberJoins = %d", m.MemberJoins)
	}
}

// TestPayloadAuth sends hand-made requests to a node's payload path: every
// one without a valid signature is refused with 401 and counted.
func TestPayloadAuth(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("pa-a", "127.0.0.1"))
	a.local.add("s", "s", "c", "u", "/")
	url := "http://" + a.InternalAddr()

	key := func(b64 string) []byte {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		k, err := hmacauth.DeriveKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	good, wrong := key(testKey), key(otherKey)
	// request signs signedPath, signed and destination to with key k (none
	// if nil) but sends body to path on a.
	requestTo := func(k []byte, to, path, signedPath string, signed, body []byte) *http.Request {
		req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if k != nil {
			if err := hmacauth.NewSigner(k, "intruder").Sign(req.Header, http.MethodPost, signedPath, to, signed, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		return req
	}
	request := func(k []byte, path, signedPath string, signed, body []byte) *http.Request {
		return requestTo(k, a.Name(), path, signedPath, signed, body)
	}
	statsReq := func(k []byte) *http.Request { return request(k, pathStats, pathStats, nil, nil) }
	do := func(req *http.Request) int {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	valid := statsReq(good)
	replay := valid.Clone(context.Background())
	replay.Body = http.NoBody
	unsignedBatch, _ := http.NewRequest(http.MethodPost, url+pathBatch, bytes.NewReader(wire.AppendBatch(nil, 1, 1, a.boot, []wire.Msg{{Context: "c", User: "u", Data: []byte("forged")}})))

	steps := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"valid signature", valid, http.StatusOK},
		{"replayed request", replay, http.StatusUnauthorized},
		{"no signature", statsReq(nil), http.StatusUnauthorized},
		{"unsigned batch", unsignedBatch, http.StatusUnauthorized},
		{"other cluster's key", statsReq(wrong), http.StatusUnauthorized},
		{"body not the signed one", request(good, pathCloseSession, pathCloseSession, []byte("other"), []byte("s")), http.StatusUnauthorized},
		{"signed for another path", request(good, pathCloseSession, pathStats, []byte("s"), []byte("s")), http.StatusUnauthorized},
		// A request captured on its way to another member, replayed here.
		{"signed for another node", requestTo(good, "pa-other", pathCloseSession, pathCloseSession, []byte("s"), []byte("s")), http.StatusUnauthorized},
		{"valid close-session", request(good, pathCloseSession, pathCloseSession, []byte("s"), []byte("s")), http.StatusOK},
	}
	for _, s := range steps {
		if got := do(s.req); got != s.want {
			t.Fatalf("%s: status %d, want %d", s.name, got, s.want)
		}
	}
	if got := a.Metrics().AuthFailures; got != 7 {
		t.Fatalf("AuthFailures = %d, want 7", got)
	}
	if got := a.local.received("s"); len(got) != 0 {
		t.Fatalf("forged batch delivered: %q", got[0].Data)
	}
	if a.local.hasSocket("s") {
		t.Fatal("the signed close-session request did not run")
	}
}

// TestBatchDedup plays a sender by hand against a real node: a batch
// retried with the same stream and sequence number is acknowledged but not
// applied twice, a new stream starts over, and a batch for another
// incarnation is refused with 409.
func TestBatchDedup(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("dd-a", "127.0.0.1"))
	a.local.add("s", "s", "c", "u", "/")
	sender := startNode(t, testConfig("dd-b", "127.0.0.2")) // signs like a member would
	url := "http://" + a.InternalAddr()
	post := func(stream, seq, boot uint64, data string) int {
		body := wire.AppendBatch(nil, stream, seq, boot, []wire.Msg{{Context: "c", User: "u", Data: []byte(data)}})
		status, _, err := sender.post(context.Background(), a.Name(), url, pathBatch, body, maxSmallResponse)
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	steps := []struct {
		stream, seq, boot uint64
		data              string
		want              int
	}{
		{7, 1, a.boot, "s7-1", http.StatusNoContent},
		{7, 2, a.boot, "s7-2", http.StatusNoContent},
		{7, 2, a.boot, "s7-2 again", http.StatusNoContent}, // retry: acknowledged, skipped
		{7, 1, a.boot, "s7-1 again", http.StatusNoContent}, // late retry: skipped
		{9, 1, a.boot, "s9-1", http.StatusNoContent},       // new stream (new sender incarnation)
		{7, 3, a.boot, "s7-3", http.StatusNoContent},       // old stream still tracked
		{9, 1, a.boot, "s9-1 again", http.StatusNoContent},
		{9, 2, a.boot + 1, "for another incarnation", http.StatusConflict},
	}
	for i, s := range steps {
		if got := post(s.stream, s.seq, s.boot, s.data); got != s.want {
			t.Fatalf("step %d: status %d, want %d", i, got, s.want)
		}
	}
	var got []string
	for _, m := range a.local.received("s") {
		got = append(got, string(m.Data))
	}
	if want := "[s7-1 s7-2 s9-1 s7-3]"; fmt.Sprint(got) != want {
		t.Fatalf("applied %v, want %s", got, want)
	}
	if m := a.Metrics(); m.DuplicateBatches != 3 || m.BatchesReceived != 4 {
		t.Fatalf("DuplicateBatches = %d, BatchesReceived = %d; want 3 and 4", m.DuplicateBatches, m.BatchesReceived)
	}

	// Undecodable and oversized batches are refused as bad requests.
	if got := post(7, 0, a.boot, "seq 0"); got != http.StatusBadRequest {
		t.Fatalf("batch with seq 0: status %d", got)
	}
	big := wire.AppendBatch(nil, 7, 4, a.boot, []wire.Msg{{Context: "c", User: "u", Data: make([]byte, a.cfg.MaxMessageSize+1)}})
	if status, _, err := sender.post(context.Background(), a.Name(), url, pathBatch, big, maxSmallResponse); err != nil || status != http.StatusBadRequest {
		t.Fatalf("oversized message: status %d, %v", status, err)
	}
	huge := make([]byte, a.maxBatchBody()+1)
	if status, _, err := sender.post(context.Background(), a.Name(), url, pathBatch, huge, maxSmallResponse); err != nil || status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d, %v", status, err)
	}
}
