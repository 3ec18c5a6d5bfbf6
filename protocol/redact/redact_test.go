package redact_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol/redact"
)

func TestWriterRedactsEverySecret(t *testing.T) {
	s := &redact.Secrets{}
	s.Add("tok-AAAA", "tok-AAAA-longer", "", "ab")
	var out bytes.Buffer
	w := redact.NewWriter(&out, s)
	msg := []byte("a=tok-AAAA-longer b=tok-AAAA c=ab\n")
	n, err := w.Write(msg)
	require.NoError(t, err)
	require.Equal(t, len(msg), n)
	require.Equal(t, "a=[REDACTED] b=[REDACTED] c=ab\n", out.String(), "longest first; too-short values ignored")
}

func TestSecretsAddedLaterApply(t *testing.T) {
	s := &redact.Secrets{}
	var buf redact.Buffer
	w := redact.NewWriter(&buf, s)
	_, _ = w.Write([]byte("x canary-123 "))
	s.Add("canary-123")
	_, _ = w.Write([]byte("y canary-123"))
	require.Equal(t, "x canary-123 y [REDACTED]", buf.String())
	require.Equal(t, "[REDACTED]!", s.String("canary-123!"))
}

func TestJSONEscapedSecretsAreRedacted(t *testing.T) {
	s := &redact.Secrets{}
	s.Add(`to"k<en>`)
	require.Equal(t, `{"m":"[REDACTED]"}`, s.String(`{"m":"to\"k\u003cen\u003e"}`))
	require.Equal(t, `raw [REDACTED]`, s.String(`raw to"k<en>`))
}

func TestContainsSeesWholeSecretsAndLongStarts(t *testing.T) {
	s := redact.New("tok-0123456789abcdef", "")
	cases := []struct {
		text string
		want bool
	}{
		{"tok-0123456789abcdef", true},
		{"x-tok-0123456789abcdef-y", true},
		{"tok-01234567", true}, // a start of 12 bytes
		{"tok-0123", false},
		{"other", false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, s.Contains(c.text), c.text)
	}
}
