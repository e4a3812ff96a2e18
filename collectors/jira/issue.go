package jira

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	jira "github.com/andygrunwald/go-jira"
)

// apiIssue is an issue as search, issue GET and webhooks return it. It reuses
// go-jira's field types but not its IssueFields, whose description is a string
// and so fails on the Atlassian Document Format objects of REST v3.
type apiIssue struct {
	ID        string         `json:"id"`
	Key       string         `json:"key"`
	Fields    issueFields    `json:"fields"`
	Changelog *changelogPage `json:"changelog,omitempty"`
}

// changelogPage is the changelog embedded in an issue by expand=changelog. Jira
// Cloud returns only the most recent histories there; Total says how many exist.
type changelogPage struct {
	StartAt    int                     `json:"startAt"`
	MaxResults int                     `json:"maxResults"`
	Total      int                     `json:"total"`
	Histories  []jira.ChangelogHistory `json:"histories"`
}

// complete reports whether the embedded changelog holds every history.
func (p *changelogPage) complete() bool {
	return p == nil || (p.StartAt == 0 && len(p.Histories) >= p.Total)
}

// issueFields holds the fields the collector asks for. Custom keeps every
// customfield_* value raw, so the story points field can be any of them.
type issueFields struct {
	Project        projectRef                 `json:"project"`
	Type           jira.IssueType             `json:"issuetype"`
	Priority       *jira.Priority             `json:"priority"`
	Status         *jira.Status               `json:"status"`
	Resolution     *jira.Resolution           `json:"resolution"`
	Labels         []string                   `json:"labels"`
	Components     []*jira.Component          `json:"components"`
	Created        jira.Time                  `json:"created"`
	Updated        jira.Time                  `json:"updated"`
	ResolutionDate jira.Time                  `json:"resolutiondate"`
	Creator        *jira.User                 `json:"creator"`
	Reporter       *jira.User                 `json:"reporter"`
	Custom         map[string]json.RawMessage `json:"-"`
}

type projectRef struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// UnmarshalJSON decodes the known fields and keeps custom fields raw.
func (f *issueFields) UnmarshalJSON(b []byte) error {
	type plain issueFields
	if err := json.Unmarshal(b, (*plain)(f)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k, v := range all {
		if strings.HasPrefix(k, "customfield_") {
			if f.Custom == nil {
				f.Custom = map[string]json.RawMessage{}
			}
			f.Custom[k] = v
		}
	}
	return nil
}

// number reads a numeric custom field; ok is false when it is absent or null.
func (f *issueFields) number(id string) (float64, bool, error) {
	raw, found := f.Custom[id]
	if id == "" || !found || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return 0, false, nil
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, fmt.Errorf("field %s = %s: not a number", id, raw)
	}
	return v, true, nil
}

// projectKey returns the key of the project the issue is in now.
func (is *apiIssue) projectKey() string {
	if is.Fields.Project.Key != "" {
		return strings.ToUpper(is.Fields.Project.Key)
	}
	if i := strings.LastIndex(is.Key, "-"); i > 0 {
		return strings.ToUpper(is.Key[:i])
	}
	return ""
}

// searchFields are the fields asked of every search; description, comments and
// other bulky fields stay out.
func searchFields(storyPoints string) []string {
	f := []string{"project", "issuetype", "priority", "status", "resolution", "labels", "components",
		"created", "updated", "resolutiondate", "creator", "reporter"}
	if storyPoints != "" {
		f = append(f, storyPoints)
	}
	return f
}

// bugFields are the fields the open-bug facts need.
var bugFields = []string{"project", "issuetype", "priority", "status", "labels", "components", "created"}
