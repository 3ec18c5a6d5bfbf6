package cpi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

func TestCloudErrorMapping(t *testing.T) {
	api := func(code hcloud.ErrorCode) error {
		return fmt.Errorf("wrapped: %w", hcloud.Error{Code: code, Message: "msg of " + string(code)})
	}
	cases := []struct {
		err   error
		want  protocol.ErrorType
		retry bool
	}{
		{api(hcloud.ErrorCodeUnauthorized), protocol.Unauthorized, false},
		{api(hcloud.ErrorCodeForbidden), protocol.Forbidden, false},
		{api(hcloud.ErrorCodeProtected), protocol.Forbidden, false},
		{api(hcloud.ErrorCodeNotFound), protocol.NotFound, false},
		{api(hcloud.ErrorCodeInvalidInput), protocol.InvalidArguments, false},
		{api(hcloud.ErrorCodeJSONError), protocol.InvalidArguments, false},
		{api(hcloud.ErrorCodeUniquenessError), protocol.Conflict, true},
		{api(hcloud.ErrorCodeConflict), protocol.Conflict, true},
		{api(hcloud.ErrorCodeLocked), protocol.Unavailable, true},
		{api(hcloud.ErrorCodeRateLimitExceeded), protocol.RateLimited, true},
		{api(hcloud.ErrorCodeResourceUnavailable), protocol.Unavailable, true},
		{api(hcloud.ErrorCodeMaintenance), protocol.Unavailable, true},
		{api(hcloud.ErrorCodeServiceError), protocol.Unavailable, true},
		{api(hcloud.ErrorCodeServerError), protocol.Unavailable, true},
		{api(hcloud.ErrorCodeTimeout), protocol.Timeout, true},
		{api(hcloud.ErrorCodeResourceLimitExceeded), protocol.Forbidden, false},
		{api("something_new"), protocol.CloudError, false},
		{context.DeadlineExceeded, protocol.Timeout, true},
		{context.Canceled, protocol.Timeout, true},
		{fmt.Errorf("hcloud: %w 502", hcloud.ErrStatusCode), protocol.CloudError, false}, // no response: status unknown
		{io.ErrUnexpectedEOF, protocol.Unavailable, true},
		{errors.New("strange"), protocol.CloudError, false},
		{protocol.NewError(protocol.NotFound, "already mapped"), protocol.NotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			e := CloudError("op", nil, tc.err)
			require.Equal(t, tc.want, e.Type)
			require.Equal(t, tc.retry, e.OkToRetry)
			if _, ok := tc.err.(*protocol.Error); !ok {
				require.Contains(t, e.Message, "op")
			}
		})
	}
	require.Contains(t, CloudError("op", nil, api(hcloud.ErrorCodeForbidden)).Message, "read-write token")
	require.Nil(t, CloudError("op", nil, nil))
}

func TestStatusErrorMapping(t *testing.T) {
	cases := map[int]protocol.ErrorType{
		401: protocol.Unauthorized, 403: protocol.Forbidden, 404: protocol.NotFound, 409: protocol.Conflict,
		423: protocol.Unavailable, 429: protocol.RateLimited, 500: protocol.Unavailable, 502: protocol.Unavailable,
		503: protocol.Unavailable, 504: protocol.Timeout, 418: protocol.CloudError,
	}
	for status, want := range cases {
		require.Equal(t, want, statusError("op", status).Type, status)
	}
	require.True(t, statusError("op", 423).OkToRetry)
}

func TestErrorTextQuotesWholeCharacters(t *testing.T) {
	require.True(t, utf8.ValidString(errorText(errors.New(strings.Repeat("€", 150)))))
}

func TestActionErrorIsACloudError(t *testing.T) {
	e := CloudError("op", nil, fmt.Errorf("waiting: %w", hcloud.ActionError{Code: "action_failed", Message: "disk full"}))
	require.Equal(t, protocol.CloudError, e.Type)
	require.Contains(t, e.Message, "disk full")
	require.False(t, e.OkToRetry)
}

func TestOutcomeUnknown(t *testing.T) {
	api := func(code hcloud.ErrorCode) error { return hcloud.Error{Code: code} }
	cases := []struct {
		err  error
		want bool
	}{
		{api(hcloud.ErrorCodeInvalidInput), false},
		{api(hcloud.ErrorCodeUniquenessError), false},
		{api(hcloud.ErrorCodeServerError), true},
		{api(hcloud.ErrorCodeTimeout), true},
		{io.ErrUnexpectedEOF, true},
		{context.DeadlineExceeded, true},
	}
	for _, c := range cases {
		require.Equal(t, c.want, OutcomeUnknown(c.err), c.err)
	}
}
