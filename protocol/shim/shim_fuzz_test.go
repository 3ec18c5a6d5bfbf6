package shim_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/shim"
)

// FuzzShimHTTP feeds raw HTTP/1.1 requests to the shim (in process, with
// the stub CPI echoing each request it gets) and checks what holds for any
// input: no panic reaches the client; the status is a real one; every
// failure is {"errors": [...]} as JSON with at least one message; no
// credential of 8 bytes or more (an Auth-* value) comes back in the body,
// a header or the shim's log; no response header carries CR, LF or NUL; the
// request id is one the shim accepts.
//
// Seeds are in testdata/fuzz/FuzzShimHTTP; `make fuzz` runs it for a while.
func FuzzShimHTTP(f *testing.F) {
	for _, seed := range []string{
		"GET /meta HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /keys HTTP/1.1\r\nHost: x\r\nAuth-Api-Token: secret-token-123456\r\nContent-Length: 26\r\n\r\n{\"id\":\"k\",\"key\":\"ssh-rsa\"}",
		"PATCH /servers/42/rename HTTP/1.1\r\nHost: x\r\nAuth-Api-Token: secret-token-123456\r\nContent-Length: 15\r\n\r\n{\"name\":\"web\"}",
		"DELETE /servers/..%2F..%2Fkeys HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /servers/1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc%0d%0a\r\nAuth-Api-Token: tok\r\n\r\n",
		"POST /servers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n",
		"BREW /servers HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	logs := &bytes.Buffer{}
	logger := logrus.New()
	logger.SetOutput(logs)
	logger.SetLevel(logrus.DebugLevel)
	logger.SetFormatter(&logrus.JSONFormatter{})
	env := append(os.Environ(), "STUB_MODE=echo-request")
	s, err := shim.New(shim.Options{CPI: stubCPI, Timeout: 10 * time.Second, MaxBody: 4096, MaxConcurrent: 4, Env: env, PassEnv: []string{"STUB_MODE"}, Logger: logger})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // not HTTP: net/http answers 400 before the shim sees it
		}
		// The stub obeys Auth-Stub-* headers (sleep, write files); the
		// fuzzer may not choose them.
		for name := range req.Header {
			if strings.HasPrefix(strings.ToLower(name), "auth-stub") {
				delete(req.Header, name)
			}
		}
		req.RemoteAddr = "127.0.0.1:1234"
		var secrets []string
		for name, values := range req.Header {
			if len(name) <= len("auth-") || !strings.EqualFold(name[:len("auth-")], "auth-") {
				continue
			}
			for _, v := range values {
				if len(v) >= 8 {
					secrets = append(secrets, v)
				}
			}
		}
		logs.Reset()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)

		res := rec.Result()
		body := rec.Body.Bytes()
		checkFuzzedAnswer(t, req, res, body, logs)
		headers := checkFuzzedHeaders(t, res)
		for _, secret := range secrets {
			quoted, _ := json.Marshal(secret)
			for where, text := range map[string][]byte{"body": body, "headers": headers, "log": logs.Bytes()} {
				if bytes.Contains(text, []byte(secret)) || bytes.Contains(text, quoted[1:len(quoted)-1]) {
					t.Fatalf("credential %q comes back in the %s:\n%s", secret, where, text)
				}
			}
		}
	})
}

// checkFuzzedAnswer: a real status, no panic, and every error answered
// with a JSON {"errors"} body.
func checkFuzzedAnswer(t *testing.T, req *http.Request, res *http.Response, body []byte, logs *bytes.Buffer) {
	t.Helper()
	if res.StatusCode < 200 || res.StatusCode > 599 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if bytes.Contains(body, []byte("internal error in the shim")) {
		t.Fatalf("a handler panicked: %s\nlog: %s", body, logs.String())
	}
	if res.StatusCode < 300 || req.Method == http.MethodHead {
		return
	}
	var eb struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(body, &eb); err != nil || len(eb.Errors) == 0 || eb.Errors[0] == "" {
		t.Fatalf("status %d without an errors body: %q", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q", res.StatusCode, ct)
	}
}

// checkFuzzedHeaders: no control character in any header, a request id the
// shim accepts; it returns the headers as text.
func checkFuzzedHeaders(t *testing.T, res *http.Response) []byte {
	t.Helper()
	var headers bytes.Buffer
	for name, values := range res.Header {
		for _, v := range values {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("header %s carries a control character: %q", name, v)
			}
			headers.WriteString(name + ": " + v + "\n")
		}
	}
	if id := res.Header.Get(shim.RequestIDHeader); id == "" || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != "" {
		t.Fatalf("request id %q", id)
	}
	return headers.Bytes()
}
