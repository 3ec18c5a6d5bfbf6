// Package redact removes secrets from everything the adapter's binaries
// write: the CPI's stderr log, the response's log field and error messages,
// and the shim's access log, its messages and the results it passes on. It
// is the one redaction of the project, with one Placeholder.
package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"sync"
)

// Placeholder replaces every secret.
const Placeholder = "[REDACTED]"

// minSecretLen guards against "secrets" so short that replacing them would
// mangle ordinary text; no real token is this short.
const minSecretLen = 4

// minPieceLen is the shortest start of a secret that is redacted on its
// own: messages truncate long values ("ssh_key \"abcdef...\""), and a
// truncated secret is still a leak.
const minPieceLen = 12

// Secrets is a set of values that must never be written out.
type Secrets struct {
	mu     sync.RWMutex
	values []string // longest first
}

// New returns a set holding values (see Add).
func New(values ...string) *Secrets {
	s := &Secrets{}
	s.Add(values...)
	return s
}

// Contains reports whether text holds a secret, or the start of one that
// String would redact.
func (s *Secrets) Contains(text string) bool {
	return s.String(text) != text
}

// Add registers values; empty and very short ones are ignored. A value
// that JSON escapes differently (quotes, '<', control characters) is
// registered in its escaped form too, so it is caught inside encoded JSON.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []string
	for _, v := range values {
		all = append(all, v)
		if b, err := json.Marshal(v); err == nil {
			if esc := string(b[1 : len(b)-1]); esc != v {
				all = append(all, esc)
			}
		}
	}
	for _, v := range all {
		if len(v) < minSecretLen {
			continue
		}
		dup := false
		for _, have := range s.values {
			if have == v {
				dup = true
			}
		}
		if !dup {
			s.values = append(s.values, v)
		}
	}
	sort.Slice(s.values, func(i, j int) bool { return len(s.values[i]) > len(s.values[j]) })
}

// String replaces every secret in text, and every start of a secret at
// least minPieceLen long (what is left of a secret cut short).
func (s *Secrets) String(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, Placeholder)
		}
		if len(v) > minPieceLen {
			text = redactStarts(text, v)
		}
	}
	return text
}

// redactStarts replaces each run of text that begins with the first
// minPieceLen bytes of secret and follows it as far as it agrees.
func redactStarts(text, secret string) string {
	head := secret[:minPieceLen]
	if !strings.Contains(text, head) {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, head)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		n := minPieceLen
		for i+n < len(text) && n < len(secret) && text[i+n] == secret[n] {
			n++
		}
		b.WriteString(text[:i])
		b.WriteString(Placeholder)
		text = text[i+n:]
	}
}

// Writer redacts everything written through it. It is meant for line
// oriented logs: each Write is redacted on its own, so a secret split across
// two Writes would pass; logrus writes whole entries.
type Writer struct {
	w       io.Writer
	secrets *Secrets
	mu      sync.Mutex
}

// NewWriter wraps w.
func NewWriter(w io.Writer, secrets *Secrets) *Writer {
	return &Writer{w: w, secrets: secrets}
}

// Write writes p with every secret replaced. It reports len(p) on success
// so callers do not mistake the changed length for a short write.
func (r *Writer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.secrets.String(string(p))
	if _, err := io.WriteString(r.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Buffer is a concurrency-safe buffer, the sink of the response's log field.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
