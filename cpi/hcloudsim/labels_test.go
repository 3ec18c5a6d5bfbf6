package hcloudsim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"env": "prod", "tier": "web", "nanobox": "true", "empty": ""}
	tests := []struct {
		sel     string
		match   bool
		invalid bool
	}{
		{"", true, false},
		{"env=prod", true, false},
		{"env==prod", true, false},
		{"env=dev", false, false},
		{"env!=dev", true, false},
		{"env!=prod", false, false},
		{"missing!=x", true, false},
		{"tier", true, false},
		{"missing", false, false},
		{"!missing", true, false},
		{"!tier", false, false},
		{"env in (dev,prod)", true, false},
		{"env in (dev, staging)", false, false},
		{"env notin (dev,staging)", true, false},
		{"env notin (prod)", false, false},
		{"missing notin (a)", true, false},
		{"env=prod,tier=web,!missing", true, false},
		{"env=prod,tier=db", false, false},
		{"env in (dev,prod),tier", true, false},
		{"empty=", true, false},
		{"env=prod,", false, true},
		{",env", false, true},
		{"env in (dev", false, true},
		{"env in dev", false, true},
		{"env in ()", false, true},
		{"a b=c", false, true},
		{"=x", false, true},
		{")", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			sel, err := parseLabelSelector(tt.sel)
			if tt.invalid {
				assert.Error(t, err)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tt.match, sel.matches(labels))
		})
	}
}

func TestValidHostname(t *testing.T) {
	for name, ok := range map[string]bool{
		"web-1": true, "a": true, "web.example.com": true, "1abc": true,
		"": false, "-web": false, "web-": false, "web_1": false, "a..b": false, "web 1": false,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":  true,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": false,
	} {
		assert.Equal(t, ok, validHostname("name", name) == nil, "%q", name)
	}
}
