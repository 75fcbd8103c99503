package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/valyala/fasthttp"
)

// maxBulk is the most send requests one bulk call may carry.
const maxBulk = 200_000

// BulkResult answers POST /api/v1/send/bulk.
type BulkResult struct {
	Accepted int         `json:"accepted"`
	Sockets  int         `json:"sockets"`
	Nodes    int         `json:"nodes"`
	Errors   []BulkError `json:"errors"`
}

// BulkError names a request of a bulk call that was refused.
type BulkError struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// apiSendBulk sends many messages in one request: a JSON array of send
// requests, or NDJSON (one per line) with Content-Type
// application/x-ndjson. A bad entry is reported by index; the others go
// out.
func (s *Server) apiSendBulk(ctx *fasthttp.RequestCtx) error {
	body := ctx.PostBody()
	var reqs []SendRequest
	if bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/x-ndjson")) {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 0, 64<<10), len(body)+1)
		for line := 1; sc.Scan(); line++ {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			r, ok := decodeSendLineFast(b)
			if !ok {
				dec := json.NewDecoder(bytes.NewReader(b))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&r); err != nil {
					return badRequest("NDJSON line %d: %v", line, err)
				}
			}
			reqs = append(reqs, r)
			if len(reqs) > maxBulk {
				return badRequest("more than %d send requests in one bulk call", maxBulk)
			}
		}
	} else if fast, ok := decodeBulkFast(body); ok {
		reqs = fast
	} else if err := decodeBody(ctx, &reqs); err != nil {
		return err
	}
	if len(reqs) > maxBulk {
		return badRequest("more than %d send requests in one bulk call", maxBulk)
	}
	maxSize := int(s.cfg.Load().Limits.MaxMessageSize)
	res := BulkResult{Errors: []BulkError{}}
	for i, r := range reqs {
		m, err := r.message(maxSize)
		if err == nil {
			var sr SendResult
			sr, err = s.Send(context.Background(), Target{Context: r.Context, User: r.User, Path: r.Path, Local: r.Local}, m)
			res.Sockets += sr.Sockets
			res.Nodes += sr.Nodes
		}
		if err != nil {
			res.Errors = append(res.Errors, BulkError{Index: i, Error: err.Error()})
			continue
		}
		res.Accepted++
	}
	writeJSON(ctx, fasthttp.StatusAccepted, res)
	return nil
}

// message decodes the request's message, checking its size.
func (r SendRequest) message(maxSize int) (Message, error) {
	var m Message
	switch {
	case r.Message != nil && r.MessageBase64 != nil:
		return m, badRequest("set message or message_base64, not both")
	case r.Message != nil:
		m = Message{Type: TextMessage, Data: []byte(*r.Message)}
	case r.MessageBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*r.MessageBase64)
		if err != nil {
			return m, badRequest("message_base64: %v", err)
		}
		m = Message{Type: BinaryMessage, Data: b}
	default:
		return m, badRequest("message (text) or message_base64 (binary) is required")
	}
	if len(m.Data) > maxSize {
		return m, &apiError{fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("message of %d bytes is larger than limits.max_message_size (%d)", len(m.Data), maxSize)}
	}
	return m, nil
}
