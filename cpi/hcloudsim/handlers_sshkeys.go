package hcloudsim

import (
	"time"

	"net/http"
	"strings"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
	"golang.org/x/crypto/ssh"
)

func (st *state) sshKeyList() []schema.SSHKey {
	out := make([]schema.SSHKey, 0, len(st.sshKeys))
	for _, id := range sortedKeys(st.sshKeys) {
		k := *st.sshKeys[id]
		k.Labels = copyLabels(k.Labels)
		out = append(out, k)
	}
	return out
}

func getSSHKeys(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	sel, err := selectorFromQuery(q)
	if err != nil {
		return 0, nil, err
	}
	fp := first(q, "fingerprint")
	var out []schema.SSHKey
	for _, k := range s.st.sshKeyList() {
		if !matchName(q, k.Name) || !sel.matches(k.Labels) || (fp != "" && k.Fingerprint != fp) {
			continue
		}
		out = append(out, k)
	}
	return listBody("ssh_keys", out, q, func(k schema.SSHKey) sortKey { return sortKey{id: k.ID, name: k.Name, created: k.Created} }, "id", "name")
}

func (s *Sim) sshKeyByPath(c *call) (*schema.SSHKey, *apiError) {
	return byPath(c, s.st.sshKeys, "ssh_key")
}

func getSSHKey(s *Sim, c *call) (int, any, *apiError) {
	k, err := s.sshKeyByPath(c)
	if err != nil {
		return 0, nil, err
	}
	out := *k
	out.Labels = copyLabels(k.Labels)
	return http.StatusOK, map[string]any{"ssh_key": out}, nil
}

func createSSHKey(s *Sim, c *call) (int, any, *apiError) {
	var req schema.SSHKeyCreateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	if err := validName("name", req.Name); err != nil {
		return 0, nil, err
	}
	pub, _, _, _, perr := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
	if perr != nil {
		return 0, nil, invalidField("public_key", "invalid public key")
	}
	labels, err := validLabels(req.Labels)
	if err != nil {
		return 0, nil, err
	}
	fp := ssh.FingerprintLegacyMD5(pub)
	for _, k := range s.st.sshKeys {
		if k.Name == req.Name {
			return 0, nil, notUnique("name", "SSH key with the same name already exists")
		}
		if k.Fingerprint == fp {
			return 0, nil, notUnique("public_key", "SSH key with the same fingerprint already exists")
		}
	}
	k := &schema.SSHKey{
		ID: s.st.newID(), Name: req.Name, Fingerprint: fp, PublicKey: strings.TrimSpace(req.PublicKey),
		Labels: labels, Created: c.now.UTC().Truncate(1e9),
	}
	s.st.sshKeys[k.ID] = k
	s.record("ssh_key", k.ID, k.Name, c.now)
	out := *k
	out.Labels = copyLabels(k.Labels)
	return http.StatusCreated, map[string]any{"ssh_key": out}, nil
}

func updateSSHKey(s *Sim, c *call) (int, any, *apiError) {
	k, err := s.sshKeyByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.SSHKeyUpdateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	taken := takenBy(s.st.sshKeys, k.ID, func(o *schema.SSHKey) string { return o.Name })
	labels, err := nameUpdate{validName, taken, "SSH key with the same name already exists"}.checkUpdate(optionalName(req.Name), req.Labels)
	if err != nil {
		return 0, nil, err
	}
	if req.Name != "" {
		k.Name = req.Name
	}
	if labels != nil {
		k.Labels = labels
	}
	out := *k
	out.Labels = copyLabels(k.Labels)
	return http.StatusOK, map[string]any{"ssh_key": out}, nil
}

func deleteSSHKey(s *Sim, c *call) (int, any, *apiError) {
	k, err := s.sshKeyByPath(c)
	if err != nil {
		return 0, nil, err
	}
	delete(s.st.sshKeys, k.ID)
	return http.StatusNoContent, nil, nil
}

// record appends to the creation log; the caller holds s.mu.
func (s *Sim) record(kind string, id int64, name string, at time.Time) {
	s.created = append(s.created, Created{Kind: kind, ID: id, Name: name, At: at})
}
