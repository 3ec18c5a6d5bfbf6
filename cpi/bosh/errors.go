package bosh

import (
	"fmt"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// The BOSH error types this package answers (protocol's error table).
const (
	CloudError       = protocol.BoshCloudError
	CpiError         = protocol.BoshCpiError
	NotSupported     = protocol.BoshNotSupported
	VMNotFound       = protocol.BoshVMNotFound
	DiskNotFound     = protocol.BoshDiskNotFound
	DiskNotAttached  = protocol.BoshDiskNotAttached
	VMCreationFailed = protocol.BoshVMCreationFailed
)

// newError returns a BOSH error with ok_to_retry false.
func newError(t protocol.ErrorType, format string, args ...any) *protocol.Error {
	return &protocol.Error{Type: t, Message: fmt.Sprintf(format, args...)}
}

// cloudError is cpi.CloudError (the one mapping of hcloud errors) as a
// BOSH method answers it (protocol.Error.ForBosh): the same message and
// ok_to_retry, of a BOSH type.
func cloudError(op string, err error) *protocol.Error {
	if err == nil {
		return nil
	}
	return cpi.CloudError(op, nil, err).ForBosh()
}
