package github

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// pendingMaxAge is how long a deployment without a final status is checked again.
const pendingMaxAge = 7 * 24 * time.Hour

// olderChecks bounds how many older deployments are looked at to find the
// predecessor of the first successful deployment of an environment.
const olderChecks = 5

func statusKey(id int64) string { return "statuses/" + strconv.FormatInt(id, 10) }

// deployments reads new deployments (newest first, back to the largest id
// collected or the window start) and the statuses of each, re-checks those that
// had not settled, and writes deployment events. A success carries in Related
// the commits it shipped: the compare of the previous successful deployment of
// the same environment with its own sha.
func (s *repoSync) deployments(ctx context.Context) error {
	incremental := !s.Full && s.old.DeployMaxID > 0
	path := s.path("deployments?per_page=%d", s.c.cfg.PerPage)
	etag := s.etag("deployments")
	var fresh []*gh.Deployment
	newETag, unchanged, err := readList(ctx, s, path, etag, func(list *[]*gh.Deployment) (bool, error) {
		for _, d := range *list {
			if incremental && d.GetID() <= s.old.DeployMaxID || !incremental && d.GetCreatedAt().Before(s.WindowStart) {
				return true, nil
			}
			fresh = append(fresh, d)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("list deployments of %s: %w", s.slug, err)
	}

	type item struct {
		d        *gh.Deployment
		statuses []*gh.DeploymentStatus
	}
	var items []item
	var pending []pendingDeploy
	etags := map[string]string{} // statuses ETags of the deployments still pending
	freshIDs := map[int64]bool{}
	for _, d := range fresh {
		freshIDs[d.GetID()] = true
	}
	if !s.Full {
		for _, p := range s.old.Pending {
			if freshIDs[p.ID] || p.Created.Before(s.Now.Add(-pendingMaxAge)) {
				continue
			}
			statuses, resp, err := s.c.statuses(ctx, s.slug, p.ID, s.old.etag(statusKey(p.ID)))
			switch {
			case isNotFound(err):
				continue // deleted
			case err != nil:
				return err
			case resp.notModified():
				pending = append(pending, p)
				etags[statusKey(p.ID)] = s.old.etag(statusKey(p.ID))
				continue
			}
			if _, settled := deploymentOutcome(statuses); !settled {
				pending = append(pending, p)
				etags[statusKey(p.ID)] = resp.etag
				continue
			}
			var d gh.Deployment
			if _, err := s.c.api.get(ctx, s.path("deployments/%d", p.ID), "", &d); err != nil {
				if isNotFound(err) {
					continue
				}
				return fmt.Errorf("get deployment %s/%d: %w", s.slug, p.ID, err)
			}
			items = append(items, item{d: &d, statuses: statuses})
		}
	}
	for _, d := range fresh {
		statuses, resp, err := s.c.statuses(ctx, s.slug, d.GetID(), "")
		switch {
		case isNotFound(err):
			continue
		case err != nil:
			return err
		}
		if _, settled := deploymentOutcome(statuses); !settled {
			pending = append(pending, pendingDeploy{ID: d.GetID(), Created: d.GetCreatedAt().Time})
			etags[statusKey(d.GetID())] = resp.etag
		}
		items = append(items, item{d: d, statuses: statuses})
	}

	succ := s.st.Successes.Clone()
	if succ == nil {
		succ = successMap{}
	}
	// Oldest first, so each success finds the one before it.
	ds := make([]*gh.Deployment, len(items))
	byID := map[int64]item{}
	for i, it := range items {
		ds[i] = it.d
		byID[it.d.GetID()] = it
	}
	sortDeployments(ds)
	maxID := s.old.DeployMaxID
	for _, d := range ds {
		it := byID[d.GetID()]
		var ship shipment
		if st, ok := deploymentOutcome(it.statuses); ok && st.GetState() == "success" {
			var err error
			if ship, err = s.c.shipped(ctx, s.slug, succ, d); err != nil {
				return err
			}
			succ.Add(d.GetEnvironment(), success{ID: d.GetID(), SHA: d.GetSHA(), At: st.GetCreatedAt().Time})
		}
		if err := s.Emit(ctx, deploymentEvents(s.Scope, d, it.statuses, ship)...); err != nil {
			return err
		}
		s.st.seen(d.GetUpdatedAt().Time)
		if d.GetID() > maxID {
			maxID = d.GetID()
		}
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	for k := range s.st.ETags {
		if len(k) > len("statuses/") && k[:len("statuses/")] == "statuses/" {
			delete(s.st.ETags, k)
		}
	}
	for k, v := range etags {
		s.st.setETag(k, v)
	}
	s.st.Pending = pending
	s.st.Successes = succ
	s.st.DeployMaxID = maxID
	if !unchanged {
		s.st.setETag("deployments", newETag)
	}
	return nil
}

// statuses lists the statuses of one deployment, newest first.
func (c *Collector) statuses(ctx context.Context, slug string, id int64, etag string) ([]*gh.DeploymentStatus, response, error) {
	var all []*gh.DeploymentStatus
	path := fmt.Sprintf("repos/%s/deployments/%d/statuses?per_page=%d", slug, id, c.cfg.PerPage)
	var first response
	for n := 0; path != ""; n++ {
		var list []*gh.DeploymentStatus
		resp, err := c.api.get(ctx, path, etag, &list)
		if err != nil {
			return nil, response{}, fmt.Errorf("list statuses of deployment %s/%d: %w", slug, id, err)
		}
		if n == 0 {
			first = resp
		}
		if resp.notModified() {
			return nil, resp, nil
		}
		etag = ""
		all = append(all, list...)
		path = resp.next
	}
	return all, first, nil
}

// shipped returns what the successful deployment d shipped: the commits between
// the previous successful deployment of its environment (from succ, or else from
// the deployments listed before it) and its sha.
func (c *Collector) shipped(ctx context.Context, slug string, succ successMap, d *gh.Deployment) (shipment, error) {
	return githost.Shipped(ctx, succ, c.deploy(slug, d, success{ID: d.GetID(), SHA: d.GetSHA()}))
}

// deploy describes the successful deployment d to githost.Shipped.
func (c *Collector) deploy(slug string, d *gh.Deployment, x success) githost.Deploy {
	env := d.GetEnvironment()
	return githost.Deploy{
		Env: env, Success: x,
		Older: func(ctx context.Context) (success, bool, error) { return c.olderSuccess(ctx, slug, env, d.GetID()) },
		Compare: func(ctx context.Context, base, head string) ([]string, error) {
			return c.compare(ctx, slug, base, head)
		},
	}
}

// olderSuccess finds the latest successful deployment of env with an id below
// before, among the most recent deployments of that environment.
func (c *Collector) olderSuccess(ctx context.Context, slug, env string, before int64) (success, bool, error) {
	var list []*gh.Deployment
	path := fmt.Sprintf("repos/%s/deployments?environment=%s&per_page=%d", slug, url.QueryEscape(env), c.cfg.PerPage)
	if _, err := c.api.get(ctx, path, "", &list); err != nil {
		return success{}, false, fmt.Errorf("list deployments of %s to %s: %w", slug, env, err)
	}
	checked := 0
	for _, d := range list {
		if d.GetID() >= before {
			continue
		}
		if checked++; checked > olderChecks {
			break
		}
		statuses, _, err := c.statuses(ctx, slug, d.GetID(), "")
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return success{}, false, err
		}
		if st, ok := deploymentOutcome(statuses); ok && st.GetState() == "success" {
			return success{ID: d.GetID(), SHA: d.GetSHA(), At: st.GetCreatedAt().Time}, true, nil
		}
	}
	return success{}, false, nil
}

// compare returns the shas of the commits head has and base has not, at most
// MaxShippedCommits of them. A head behind or equal to base shipped nothing new.
func (c *Collector) compare(ctx context.Context, slug, base, head string) ([]string, error) {
	commits, err := c.compareCommits(ctx, slug, base, head)
	if err != nil {
		return nil, err
	}
	shas := make([]string, 0, len(commits))
	for _, rc := range commits {
		shas = append(shas, rc.GetSHA())
	}
	return shas, nil
}

// compareCommits returns the commits head has and base has not (oldest first, as
// GitHub lists them), at most MaxShippedCommits of them.
func (c *Collector) compareCommits(ctx context.Context, slug, base, head string) ([]*gh.RepositoryCommit, error) {
	var out []*gh.RepositoryCommit
	path := fmt.Sprintf("repos/%s/compare/%s...%s?per_page=%d", slug, url.PathEscape(base), url.PathEscape(head), c.cfg.PerPage)
	err := c.eachPage(ctx, path, func(ctx context.Context, path string) (string, error) {
		var cmp gh.CommitsComparison
		resp, err := c.api.get(ctx, path, "", &cmp)
		if err != nil {
			return "", fmt.Errorf("compare %s %s...%s: %w", slug, base, head, err)
		}
		if s := cmp.GetStatus(); s == "behind" || s == "identical" {
			return "", nil
		}
		out = append(out, cmp.Commits...)
		if len(out) >= c.cfg.MaxShippedCommits {
			out = out[:c.cfg.MaxShippedCommits]
			return "", nil
		}
		return resp.next, nil
	})
	return out, err
}
