package shim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseResponse: whatever a CPI writes, the shim either gets one
// response with a result or an error, or a clear reason; it never panics.
func FuzzParseResponse(f *testing.F) {
	for _, seed := range []string{
		`{"result": {"id": "1"}, "error": null, "log": ""}`,
		`{"result": null, "error": {"type": "NotFound", "message": "x", "ok_to_retry": false}, "log": ""}`,
		`{}`, `[]`, `null`, ``, `{"result": 1} trailing`, `{"error": {"type": ""}}`, "\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, stdout []byte) {
		resp, err := parseResponse(stdout)
		if (resp == nil) == (err == nil) {
			t.Fatalf("exactly one of response and error: %v %v", resp, err)
		}
		if resp != nil {
			if resp.Error == nil && resp.Result == nil {
				t.Fatal("a response without result and error was accepted")
			}
			if resp.Error != nil && resp.Error.Type == "" {
				t.Fatal("an error without a type was accepted")
			}
			if resp.Result != nil && !json.Valid(resp.Result) {
				t.Fatal("an invalid result was accepted")
			}
		}
	})
}

// FuzzCredentialsAndRequestID: header names and request ids from the
// network never produce odd credential keys or log-unsafe ids.
func FuzzCredentialsAndRequestID(f *testing.F) {
	f.Add("Auth-Api-Token", "v", "req-1")
	f.Add("AUTH-", "v", "a b")
	f.Add("auth-x-y", "", "\n")
	f.Fuzz(func(t *testing.T, name, value, id string) {
		creds, err := Credentials(http.Header{name: {value}})
		if err != nil {
			t.Fatalf("one header is never ambiguous: %v", err)
		}
		for k := range creds {
			if k == "" || k != strings.ToLower(k) {
				t.Fatalf("credential key %q", k)
			}
			if !strings.EqualFold("auth-"+k, name) {
				t.Fatalf("key %q from header %q", k, name)
			}
		}
		if got := validRequestID(id); got != "" && got != id {
			t.Fatalf("request id %q became %q", id, got)
		} else if got != "" && strings.ContainsAny(got, " \n\r\t\"=") {
			t.Fatalf("unsafe request id %q accepted", got)
		}
	})
}
