package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Calls to the targets' admin APIs.

// errAdmin is an admin API answer other than the expected status.
var errAdmin = errors.New("bench: admin API error")

// errNoBulk is a 404 from POST /api/v1/send/bulk.
var errNoBulk = errors.New("bench: the target has no POST /api/v1/send/bulk")

func newRequest(ctx context.Context, method, url string, body []byte, contentType string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// post sends body and decodes the answer into out when the status is
// want; any other status is an error carrying the answer.
func (r *runner) post(ctx context.Context, url string, body []byte, want int, out any) (int, error) {
	req, err := newRequest(ctx, "POST", url, body, "application/json")
	if err != nil {
		return 0, err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != want {
		return resp.StatusCode, fmt.Errorf("%w: POST %s: HTTP %d %s", errAdmin, url, resp.StatusCode, bytes.TrimSpace(data[:min(len(data), 300)]))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%w: POST %s: %w", errAdmin, url, err)
		}
	}
	return resp.StatusCode, nil
}

// appendSendJSON appends one send request object.
func appendSendJSON(dst []byte, user string, msg []byte) []byte {
	dst = append(dst, `{"context":"1","user":`...)
	dst = appendJSONString(dst, user)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, string(msg))
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. The bench's payloads are
// printable ASCII, which takes the fast path.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
