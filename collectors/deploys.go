package collectors

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// DeploySuccess is one successful deployment of an environment, as a Git
// source remembers it to find the commits the next one shipped.
type DeploySuccess struct {
	ID  int64     `json:"id"`
	SHA string    `json:"sha"`
	At  time.Time `json:"at,omitzero"`
}

// DeploySuccessesKept bounds the successful deployments remembered per environment.
const DeploySuccessesKept = 20

// DeploySuccesses holds the latest successful deployments per environment,
// ascending by id, at most DeploySuccessesKept each. Sources keep it in their
// per-repository cursor state.
type DeploySuccesses map[string][]DeploySuccess

// Add records a successful deployment of env once, keeping the list sorted
// and bounded.
func (m DeploySuccesses) Add(env string, s DeploySuccess) {
	list := m[env]
	if slices.ContainsFunc(list, func(x DeploySuccess) bool { return x.ID == s.ID }) {
		return
	}
	list = append(list, s)
	slices.SortFunc(list, func(a, b DeploySuccess) int { return cmp.Compare(a.ID, b.ID) })
	if len(list) > DeploySuccessesKept {
		list = list[len(list)-DeploySuccessesKept:]
	}
	m[env] = list
}

// Previous returns the latest successful deployment of env older than id.
func (m DeploySuccesses) Previous(env string, id int64) (DeploySuccess, bool) {
	list := m[env]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].ID < id {
			return list[i], true
		}
	}
	return DeploySuccess{}, false
}

// Merge returns a copy of m with every success of other added.
func (m DeploySuccesses) Merge(other DeploySuccesses) DeploySuccesses {
	out := m.Clone()
	for env, list := range other {
		for _, x := range list {
			out.Add(env, x)
		}
	}
	return out
}

// Clone returns a copy that Add on either does not change the other.
func (m DeploySuccesses) Clone() DeploySuccesses {
	out := maps.Clone(m)
	if out == nil {
		out = DeploySuccesses{}
	}
	for k, v := range out {
		out[k] = slices.Clone(v)
	}
	return out
}
