package pagerduty

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"

	"github.com/yardstick-dev/yardstick"
)

// facts reads the services, their escalation policies and who is on call now,
// and writes the facts of every service that could be read completely.
func (r *run) facts(ctx context.Context, ids []string) error {
	services, err := r.services(ctx, ids)
	if err != nil {
		return err
	}
	policies, err := r.policies(ctx, services)
	if err != nil {
		return err
	}
	onCall, err := r.onCalls(ctx, services)
	if err != nil {
		return err
	}
	at := r.c.now()
	var facts []yardstick.Fact
	for _, id := range ids {
		svc, ok := services[id]
		if !ok || r.failed(id) {
			continue
		}
		epID := svc.EscalationPolicy.ID
		facts = append(facts, serviceFacts(svc, policies[epID], onCall[epID], at)...)
	}
	if len(facts) == 0 {
		return nil
	}
	if err := r.w.WriteFacts(ctx, facts); err != nil {
		return &storageError{fmt.Errorf("pagerduty: write %d facts: %w", len(facts), err)}
	}
	return nil
}

// services lists the account's services with their escalation policies
// embedded, one request per hundred services, and reads the ones the listing
// lacks one by one so that a deleted service fails with its own 404.
func (r *run) services(ctx context.Context, ids []string) (map[string]*pd.Service, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[string]*pd.Service, len(ids))
	include := []string{"escalation_policies"}
	for offset := uint(0); ; {
		endpoint := fmt.Sprintf("/services?include[]=escalation_policies&limit=%d&offset=%d", r.c.pageSize, offset)
		resp, err := r.api.ListServicesWithContext(ctx, pd.ListServiceOptions{Limit: r.c.pageSize, Offset: offset, Includes: include})
		if err != nil {
			err = apiError(ctx, endpoint, err)
			if ctx.Err() != nil || fatal(err) {
				return nil, fmt.Errorf("pagerduty: %w", err)
			}
			for _, id := range ids {
				r.fail(id, err)
			}
			return out, nil
		}
		for i := range resp.Services {
			if s := &resp.Services[i]; want[s.ID] {
				out[s.ID] = s
			}
		}
		offset += uint(len(resp.Services))
		if !resp.More || len(resp.Services) == 0 || len(out) == len(want) || offset+r.c.pageSize > r.c.maxOffset {
			break
		}
	}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		endpoint := "/services/" + url.PathEscape(id) + "?include[]=escalation_policies"
		svc, err := r.api.GetServiceWithContext(ctx, url.PathEscape(id), &pd.GetServiceOptions{Includes: include})
		if err != nil {
			err = apiError(ctx, endpoint, err)
			if ctx.Err() != nil || fatal(err) {
				return nil, err
			}
			r.fail(id, err)
			continue
		}
		out[id] = svc
	}
	return out, nil
}

// policies returns each service's escalation policy with its rules. The
// services listing embeds them; a policy that came back as a bare reference is
// read on its own, once however many services share it.
func (r *run) policies(ctx context.Context, services map[string]*pd.Service) (map[string]*pd.EscalationPolicy, error) {
	out := map[string]*pd.EscalationPolicy{}
	users := map[string][]string{} // policy id -> service ids
	for id, svc := range services {
		ep := &svc.EscalationPolicy
		if ep.ID == "" {
			continue
		}
		users[ep.ID] = append(users[ep.ID], id)
		if len(ep.EscalationRules) > 0 || !strings.HasSuffix(ep.Type, "_reference") {
			out[ep.ID] = ep
		}
	}
	for epID, svcIDs := range users {
		if _, ok := out[epID]; ok {
			continue
		}
		endpoint := "/escalation_policies/" + url.PathEscape(epID)
		ep, err := r.api.GetEscalationPolicyWithContext(ctx, url.PathEscape(epID), &pd.GetEscalationPolicyOptions{})
		if err != nil {
			err = apiError(ctx, endpoint, err)
			if ctx.Err() != nil || fatal(err) {
				return nil, err
			}
			for _, id := range svcIDs {
				r.fail(id, err)
			}
			continue
		}
		out[epID] = ep
	}
	return out, nil
}

// onCalls reports for each escalation policy whether anyone is on call for it
// now, listing on-calls for a batch of policies per request.
func (r *run) onCalls(ctx context.Context, services map[string]*pd.Service) (map[string]bool, error) {
	users := map[string][]string{}
	for id, svc := range services {
		if epID := svc.EscalationPolicy.ID; epID != "" {
			users[epID] = append(users[epID], id)
		}
	}
	epIDs := slices.Sorted(maps.Keys(users))
	out := map[string]bool{}
	list := func(batch []string) error {
		for offset := uint(0); ; {
			endpoint := fmt.Sprintf("/oncalls?escalation_policy_ids[]=%s&earliest=true&limit=%d&offset=%d", strings.Join(batch, ","), r.c.pageSize, offset)
			resp, err := r.api.ListOnCallsWithContext(ctx, pd.ListOnCallOptions{
				EscalationPolicyIDs: batch, Earliest: true, Limit: r.c.pageSize, Offset: offset,
			})
			if err != nil {
				return apiError(ctx, endpoint, err)
			}
			for _, oc := range resp.OnCalls {
				if oc.User.ID != "" {
					out[oc.EscalationPolicy.ID] = true
				}
			}
			offset += uint(len(resp.OnCalls))
			if !resp.More || len(resp.OnCalls) == 0 || offset+r.c.pageSize > r.c.maxOffset {
				return nil
			}
		}
	}
	err := r.eachBatch(ctx, epIDs, list, func(epID string, err error) {
		for _, id := range users[epID] {
			r.fail(id, err)
		}
	})
	return out, err
}

// eachBatch calls do for batches of ids. A batch that fails is tried again one
// id at a time, so that one bad id fails alone; failOne records those that
// fail alone. It returns an error only when ctx ends or a write fails.
func (r *run) eachBatch(ctx context.Context, ids []string, do func(batch []string) error, failOne func(id string, err error)) error {
	for _, batch := range batches(ids, r.c.cfg.BatchSize) {
		err := do(batch)
		if err == nil {
			continue
		}
		if ctx.Err() != nil || fatal(err) {
			return err
		}
		if len(batch) == 1 {
			failOne(batch[0], err)
			continue
		}
		r.c.logger.InfoContext(ctx, "pagerduty batch failed, retrying one at a time", "size", len(batch), "err", err)
		for _, id := range batch {
			if err := do([]string{id}); err != nil {
				if ctx.Err() != nil || fatal(err) {
					return err
				}
				failOne(id, err)
			}
		}
	}
	return nil
}
