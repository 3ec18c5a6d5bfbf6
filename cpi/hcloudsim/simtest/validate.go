package simtest

import (
	"net/http"
	"sync"
	"testing"
)

// validatingHandler serves the simulator and records responses that do not validate.
type validatingHandler struct {
	next     http.Handler
	mu       sync.Mutex
	failures []string
}

func newValidatingHandler(_ testing.TB, next http.Handler) *validatingHandler {
	return &validatingHandler{next: next}
}

func (v *validatingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.next.ServeHTTP(w, r)
}

// report fails t with every recorded failure.
func (v *validatingHandler) report(t testing.TB) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, f := range v.failures {
		t.Errorf("simulator response does not match the Hetzner OpenAPI document: %s", f)
	}
}
