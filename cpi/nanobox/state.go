package nanobox

import (
	"encoding/json"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/statedir"
)

// stateStore caches ids on disk so the warm path of order_server needs no
// lookup: the private network's id and the network zones it has subnets
// in. One file per API endpoint and project, named by the state dir's
// keyed hash of the two (package statedir): the file never holds the
// token. A missing, unreadable or foreign file is an empty cache; without a
// usable state dir there is no file.
type stateStore struct {
	path string
}

type networkState struct {
	ID      int64    `json:"id"`
	IPRange string   `json:"ip_range"`
	Zones   []string `json:"zones"`
}

type stateFile struct {
	Networks map[string]networkState `json:"networks"`
}

// newStateStore is the store of project p; nil p (no usable state dir)
// is no cache: every order looks the network up.
func newStateStore(p *statedir.Project) *stateStore {
	if p == nil {
		return &stateStore{}
	}
	return &stateStore{path: p.Path("state", "json")}
}

func (s *stateStore) load() stateFile {
	f := stateFile{Networks: map[string]networkState{}}
	if s.path == "" {
		return f
	}
	data, err := statedir.ReadFile(s.path)
	if err != nil {
		return f
	}
	if json.Unmarshal(data, &f) != nil || f.Networks == nil {
		return stateFile{Networks: map[string]networkState{}}
	}
	return f
}

// network returns the cached network of that name and ip range.
func (s *stateStore) network(name, ipRange string) (networkState, bool) {
	n, ok := s.load().Networks[name]
	if !ok || n.ID <= 0 || n.IPRange != ipRange {
		return networkState{}, false
	}
	return n, true
}

func (s *stateStore) setNetwork(name string, n networkState) error {
	return s.update(func(f *stateFile) { f.Networks[name] = n })
}

func (s *stateStore) forgetNetwork(name string) error {
	return s.update(func(f *stateFile) { delete(f.Networks, name) })
}

func (s *stateStore) update(change func(*stateFile)) error {
	if s.path == "" {
		return nil
	}
	f := s.load()
	change(&f)
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return statedir.WriteFile(s.path, data)
}
