package github

import (
	"time"

	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// repoState is what the collector remembers of one repository between runs,
// saved as one JSON cursor ("github/repo/<slug>") after the data it covers is
// stored. It holds the ETags of the conditional requests and a cursor per list.
type repoState struct {
	// Config is the hash of the configuration the state was built under; another
	// configuration means a full sync.
	Config        string            `json:"config,omitempty"`
	ETags         map[string]string `json:"etags,omitempty"`
	DefaultBranch string            `json:"default_branch,omitempty"`
	// Head is the newest default-branch commit collected; FilesAt the head sha the
	// file facts were read at.
	Head    string    `json:"head,omitempty"`
	HeadAt  time.Time `json:"head_at,omitempty"`
	FilesAt string    `json:"files_at,omitempty"`
	// Unprotected records that the default branch was last seen without
	// protection (GitHub answers 404 without an ETag), so the fact is not rewritten.
	Unprotected bool `json:"unprotected,omitempty"`
	// PullsSince is the largest updated_at of the pull requests collected.
	PullsSince time.Time `json:"pulls_since,omitempty"`
	// RunsSince is the created_at from which workflow runs are read again: the
	// newest run seen, or the oldest one still going, whichever is older.
	RunsSince     time.Time `json:"runs_since,omitempty"`
	ReleasesSince time.Time `json:"releases_since,omitempty"`
	// DeployMaxID is the largest deployment id collected; Pending the deployments
	// that had no final status yet and are checked again.
	DeployMaxID int64           `json:"deploy_max_id,omitempty"`
	Pending     []pendingDeploy `json:"pending,omitempty"`
	// Successes are the latest successful deployments per environment, ascending
	// by id: the base of the next deployment's shipped commits.
	Successes successMap `json:"successes,omitempty"`
	// MaxUpdated is the largest source timestamp seen in the repository.
	MaxUpdated time.Time `json:"max_updated,omitempty"`
}

type pendingDeploy struct {
	ID      int64     `json:"id"`
	Created time.Time `json:"created"`
}

// success is a remembered successful deployment.
type success = collectors.DeploySuccess

func stateKey(slug string) string { return "github/repo/" + slug }

const reposKey = "github/repos"

// newStates returns the store of the repositories' states.
func newStates(cursors collectors.CursorStore) *githost.States[repoState] {
	return &githost.States[repoState]{
		Cursors: cursors, Source: SourceName, Key: stateKey,
		Successes:  func(st *repoState) *successMap { return &st.Successes },
		Config:     func(st *repoState) string { return st.Config },
		MaxUpdated: func(st *repoState) time.Time { return st.MaxUpdated },
	}
}

// successMap is the latest successful deployments per environment.
type successMap = collectors.DeploySuccesses

func (st *repoState) etag(key string) string { return st.ETags[key] }

func (st *repoState) setETag(key, etag string) {
	if st.ETags == nil {
		st.ETags = map[string]string{}
	}
	if etag == "" {
		delete(st.ETags, key)
		return
	}
	st.ETags[key] = etag
}

func (st *repoState) seen(t time.Time) {
	if t.After(st.MaxUpdated) {
		st.MaxUpdated = t
	}
}
