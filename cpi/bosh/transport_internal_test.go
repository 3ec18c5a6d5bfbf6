package bosh

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripted answers its requests from a script: an error, or a status.
type scripted struct {
	script []any // error or int, one per request; the last repeats
	seen   []string
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	body := ""
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		body = string(b)
	}
	s.seen = append(s.seen, req.Method+" "+body)
	step := s.script[min(len(s.seen), len(s.script))-1]
	if err, ok := step.(error); ok {
		return nil, err
	}
	return &http.Response{StatusCode: step.(int), Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

func TestRetryTransport(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tt := range []struct {
		name     string
		method   string
		script   []any
		requests int
		status   int // 0: an error
	}{
		{"a refused connection is retried, even for a write", http.MethodPost, []any{refused, refused, 201}, 3, 201},
		{"a read answered 503 is retried", http.MethodGet, []any{503, 500, 200}, 3, 200},
		{"a read whose connection broke is retried", http.MethodGet, []any{reset, 200}, 2, 200},
		{"a read is retried at most 6 times", http.MethodGet, []any{503}, maxReadTries, 503},
		{"a write answered 503 is not repeated: it may have been carried out", http.MethodPost, []any{503, 201}, 1, 503},
		{"a write whose connection broke is not repeated", http.MethodPost, []any{reset, 201}, 1, 0},
		{"hcloud-go's own retries are left to it", http.MethodGet, []any{502, 200}, 1, 502},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := &scripted{script: tt.script}
			rt := retryTransport{base: base, backoff: func(int) time.Duration { return 0 }}
			req, err := http.NewRequest(tt.method, "http://api.invalid/v1/servers", strings.NewReader("body"))
			require.NoError(t, err)
			resp, err := rt.RoundTrip(req)
			assert.Len(t, base.seen, tt.requests)
			for _, seen := range base.seen {
				assert.Equal(t, tt.method+" body", seen, "every attempt sends the whole body")
			}
			if tt.status == 0 {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
	t.Run("retries stop at the call's deadline", func(t *testing.T) {
		base := &scripted{script: []any{refused}}
		rt := retryTransport{base: base, backoff: func(int) time.Duration { return time.Hour }}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.invalid/v1/servers", nil)
		require.NoError(t, err)
		_, err = rt.RoundTrip(req)
		require.Error(t, err)
		assert.Len(t, base.seen, 1, "no wait beyond the deadline")
	})
}
