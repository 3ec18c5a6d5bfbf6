package nanobox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/cloudinit"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/config"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// Labels recording the order's user_data and extra labels by their hashes
// (absent when the order had none), so a re-order adopts only a server
// ordered with the same ones.
const (
	LabelUserData    = config.LabelUserData
	LabelOrderLabels = config.LabelOrderLabels
)

// orderExtras are what order_server takes beyond the Nanobox spec: the
// user's cloud-init and extra labels (the libcloud driver and the Vagrant
// provider send them).
type orderExtras struct {
	userData string
	labels   map[string]string
}

// validateExtras checks the user_data (its first line names a type
// cloud-init takes; userData checks that it fits Hetzner's limit together
// with the CPI's own) and the labels (valid Hetzner labels,
// none the adapter sets), without API calls.
func validateExtras(op string, body protocol.OrderServerBody) (orderExtras, error) {
	x := orderExtras{userData: body.UserData, labels: body.Labels}
	if x.userData != "" {
		if _, err := cloudinit.UserType(x.userData); err != nil {
			return orderExtras{}, protocol.NewError(protocol.InvalidArguments, "%s: %v", op, err)
		}
	}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(x.labels)) {
		if p := config.LabelProblem(k, x.labels[k]); p != "" {
			problems = append(problems, fmt.Sprintf("label %s %s", strconv.Quote(protocol.Truncate(k, 80)), p))
		}
	}
	if len(problems) > 0 {
		return orderExtras{}, protocol.NewError(protocol.InvalidArguments, "%s: %s", op, strings.Join(problems, "; "))
	}
	return x, nil
}

// userData is a server's user_data: the CPI's own cloud-init (in network
// mode private: the private NIC's name) combined with the order's (see
// cloudinit.Combine).
func (h *Hetzner) userData(op string, x orderExtras) (string, error) {
	own := ""
	if h.cfg.Network.Mode == config.NetworkPrivate {
		var err error
		if own, err = cloudinit.UserData(cloudinit.Options{PrivateIface: PrivateIface}); err != nil {
			return "", protocol.NewError(protocol.InternalError, "%s: %v", op, err)
		}
	}
	out, err := cloudinit.Combine(own, x.userData)
	if err != nil {
		return "", protocol.NewError(protocol.InvalidArguments, "%s: %v", op, err)
	}
	return out, nil
}

// addLabels puts the order's extra labels and the hashes recording them
// into l (the ownership labels are not among them: validateExtras refused
// those).
func (x orderExtras) addLabels(l map[string]string) {
	maps.Copy(l, x.labels)
	if h := x.userDataHash(); h != "" {
		l[LabelUserData] = h
	}
	if h := x.labelsHash(); h != "" {
		l[LabelOrderLabels] = h
	}
}

func (x orderExtras) userDataHash() string {
	if x.userData == "" {
		return ""
	}
	return shortHash([]byte(x.userData))
}

func (x orderExtras) labelsHash() string {
	if len(x.labels) == 0 {
		return ""
	}
	data, _ := json.Marshal(x.labels) // a map of strings: keys sorted, never fails
	return shortHash(data)
}

// shortHash is a label value: the first 128 bits of the SHA-256, in hex.
func shortHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// diff lists how the server's recorded user_data and labels differ from
// the order's.
func (x orderExtras) diff(labels map[string]string) []string {
	var out []string
	if labels[LabelUserData] != x.userDataHash() {
		out = append(out, "user_data (another cloud-init than this order's)")
	}
	if labels[LabelOrderLabels] != x.labelsHash() {
		out = append(out, "labels (other labels than this order's)")
	}
	return out
}
