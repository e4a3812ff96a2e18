package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	jira "github.com/andygrunwald/go-jira"

	"github.com/yardstick-dev/yardstick/collectors"
)

// client is the slice of the Jira REST API the collector uses, on top of go-jira.
// go-jira v1.17.0 has no call for the Cloud enhanced search (POST
// /rest/api/3/search/jql) nor for paged changelogs, so those go through its
// NewRequestWithContext and Do helpers with our own page types.
type client struct {
	jc       *jira.Client
	flavor   Flavor
	pageSize int
	noBulk   atomic.Bool // the site has no /rest/api/3/changelog/bulkfetch
}

// newClient builds the API client. hc's Transport should be a
// *collectors.Transport, which retries 429 and 5xx answers; authentication is
// layered on top of it so that retried requests keep their credentials.
func newClient(cfg Config, hc *http.Client) (*client, error) {
	if hc == nil {
		hc = &http.Client{}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	var rt http.RoundTripper
	switch cfg.Flavor {
	case Cloud:
		rt = &jira.BasicAuthTransport{Username: cfg.Email, Password: cfg.APIToken.Reveal(), Transport: base}
	case Server:
		rt = &jira.BearerAuthTransport{Token: cfg.PersonalAccessToken.Reveal(), Transport: base}
	default:
		return nil, fmt.Errorf("jira flavor %q: want cloud or server", cfg.Flavor)
	}
	authed := *hc
	authed.Transport = rt
	jc, err := jira.NewClient(&authed, cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("jira client for %s: %w", cfg.BaseURL, err)
	}
	return &client{jc: jc, flavor: cfg.Flavor, pageSize: cfg.PageSize}, nil
}

// apiVersion is the REST version the flavor's search and changelog calls use.
func (c *client) apiVersion() string {
	if c.flavor == Cloud {
		return "3"
	}
	return "2"
}

// do sends one request through go-jira and decodes the answer into v. Non-2xx
// answers become *collectors.HTTPError naming method, endpoint and status.
func (c *client) do(ctx context.Context, method, path string, body, v any) error {
	req, err := c.jc.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("%s /%s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.jc.Do(req, v)
	return responseError(method, "/"+path, resp, err)
}

// responseError turns what go-jira returned into an error that says where.
func responseError(method, endpoint string, resp *jira.Response, err error) error {
	if err == nil {
		return nil
	}
	if resp != nil && resp.Response != nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		he := &collectors.HTTPError{Method: method, Endpoint: endpoint, Status: resp.StatusCode}
		if resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_ = resp.Body.Close()
			he.Body = strings.TrimSpace(string(b))
		}
		if he.Body == "" {
			// go-jira's typed services read the body into their own error.
			var je *jira.Error
			if errors.As(err, &je) {
				he.Body = strings.Join(je.ErrorMessages, "; ")
			}
		}
		return he
	}
	return fmt.Errorf("%s %s: %w", method, endpoint, err)
}

// httpStatus returns the HTTP status inside err, 0 when there is none.
func httpStatus(err error) int {
	var he *collectors.HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// statuses lists every workflow status with its category, through go-jira.
func (c *client) statuses(ctx context.Context) ([]jira.Status, error) {
	list, resp, err := c.jc.Status.GetAllStatusesWithContext(ctx)
	if err != nil {
		return nil, responseError(http.MethodGet, "/rest/api/2/status", resp, err)
	}
	return list, nil
}

// myself returns the API user, whose time zone is the one JQL dates are read in.
func (c *client) myself(ctx context.Context) (*jira.User, error) {
	u, resp, err := c.jc.User.GetSelfWithContext(ctx)
	if err != nil {
		return nil, responseError(http.MethodGet, "/rest/api/2/myself", resp, err)
	}
	return u, nil
}

// searchPage is one page of a JQL search. next is "" on the last page.
type searchPage struct {
	Issues []apiIssue
	Next   string
}

// cloudSearchRequest is the body of POST /rest/api/3/search/jql.
type cloudSearchRequest struct {
	JQL           string   `json:"jql"`
	Fields        []string `json:"fields"`
	Expand        string   `json:"expand,omitempty"`
	MaxResults    int      `json:"maxResults"`
	NextPageToken string   `json:"nextPageToken,omitempty"`
}

type cloudSearchResponse struct {
	Issues        []apiIssue `json:"issues"`
	NextPageToken string     `json:"nextPageToken"`
	IsLast        *bool      `json:"isLast"`
}

// serverSearchRequest is the body of POST /rest/api/2/search (Server / Data
// Center also accept GET, but a long JQL fits a body better than a URL).
type serverSearchRequest struct {
	JQL        string   `json:"jql"`
	StartAt    int      `json:"startAt"`
	MaxResults int      `json:"maxResults"`
	Fields     []string `json:"fields"`
	Expand     []string `json:"expand,omitempty"`
}

type serverSearchResponse struct {
	StartAt    int        `json:"startAt"`
	MaxResults int        `json:"maxResults"`
	Total      int        `json:"total"`
	Issues     []apiIssue `json:"issues"`
}

// search reads one page of jql. page is "" for the first page and the previous
// page's Next after that: a nextPageToken on Cloud, a startAt offset on Server.
func (c *client) search(ctx context.Context, jql string, fields []string, changelog bool, page string) (searchPage, error) {
	if c.flavor == Cloud {
		body := cloudSearchRequest{JQL: jql, Fields: fields, MaxResults: c.pageSize, NextPageToken: page}
		if changelog {
			body.Expand = "changelog"
		}
		var out cloudSearchResponse
		if err := c.do(ctx, http.MethodPost, "rest/api/3/search/jql", body, &out); err != nil {
			return searchPage{}, err
		}
		next := out.NextPageToken
		if out.IsLast != nil && *out.IsLast {
			next = ""
		}
		return searchPage{Issues: out.Issues, Next: next}, nil
	}
	startAt := 0
	if page != "" {
		n, err := strconv.Atoi(page)
		if err != nil {
			return searchPage{}, fmt.Errorf("search page %q: %w", page, err)
		}
		startAt = n
	}
	body := serverSearchRequest{JQL: jql, StartAt: startAt, MaxResults: c.pageSize, Fields: fields}
	if changelog {
		body.Expand = []string{"changelog"}
	}
	var out serverSearchResponse
	if err := c.do(ctx, http.MethodPost, "rest/api/2/search", body, &out); err != nil {
		return searchPage{}, err
	}
	p := searchPage{Issues: out.Issues}
	if end := out.StartAt + len(out.Issues); len(out.Issues) > 0 && end < out.Total {
		p.Next = strconv.Itoa(end)
	}
	return p, nil
}

// changelogValues is one page of GET /rest/api/{2,3}/issue/{key}/changelog.
type changelogValues struct {
	StartAt    int                     `json:"startAt"`
	MaxResults int                     `json:"maxResults"`
	Total      int                     `json:"total"`
	IsLast     *bool                   `json:"isLast"`
	Values     []jira.ChangelogHistory `json:"values"`
}

// bulkChangelogRequest is the body of POST /rest/api/3/changelog/bulkfetch.
type bulkChangelogRequest struct {
	IssueIDsOrKeys []string `json:"issueIdsOrKeys"`
	FieldIDs       []string `json:"fieldIds,omitempty"`
	MaxResults     int      `json:"maxResults"`
	NextPageToken  string   `json:"nextPageToken,omitempty"`
}

type bulkChangelogResponse struct {
	IssueChangeLogs []struct {
		IssueID         string        `json:"issueId"`
		ChangeHistories []bulkHistory `json:"changeHistories"`
	} `json:"issueChangeLogs"`
	NextPageToken string `json:"nextPageToken"`
}

// bulkHistory is a history of the bulk changelog API, whose examples give
// created as a number (epoch seconds or milliseconds) where other endpoints
// give Jira's date string; both are accepted.
type bulkHistory struct {
	ID      string                `json:"id"`
	Author  jira.User             `json:"author"`
	Created json.RawMessage       `json:"created"`
	Items   []jira.ChangelogItems `json:"items"`
}

func (h bulkHistory) history() (jira.ChangelogHistory, error) {
	out := jira.ChangelogHistory{Id: h.ID, Author: h.Author, Items: h.Items}
	var s string
	if err := json.Unmarshal(h.Created, &s); err == nil {
		out.Created = s
		return out, nil
	}
	var n int64
	if err := json.Unmarshal(h.Created, &n); err != nil {
		return out, fmt.Errorf("history %s: created %s: neither a date nor a number", h.ID, h.Created)
	}
	t := time.Unix(n, 0)
	if n > 1e11 { // milliseconds
		t = time.UnixMilli(n)
	}
	out.Created = t.UTC().Format("2006-01-02T15:04:05.000-0700")
	return out, nil
}

// bulkMaxIssues is the most issues one bulk changelog request may name.
const bulkMaxIssues = 1000

// changelogs reads the complete changelogs of issues. Cloud asks for all of
// them at once, status changes only, with POST /rest/api/3/changelog/bulkfetch,
// and falls back to paging each issue's changelog where that endpoint is
// missing (404); Server reads each issue. errs holds the error of every issue
// that could not be read.
func (c *client) changelogs(ctx context.Context, ids []string) (full map[string][]jira.ChangelogHistory, errs map[string]error) {
	full, errs = map[string][]jira.ChangelogHistory{}, map[string]error{}
	if len(ids) == 0 {
		return full, errs
	}
	if c.flavor == Cloud && !c.noBulk.Load() {
		err := c.bulkChangelogs(ctx, ids, full)
		if err == nil {
			return full, errs
		}
		if s := httpStatus(err); s != http.StatusNotFound && s != http.StatusMethodNotAllowed {
			for _, id := range ids {
				errs[id] = err
			}
			return full, errs
		}
		c.noBulk.Store(true)
		clear(full)
	}
	for _, id := range ids {
		hs, err := c.changelog(ctx, id)
		if err != nil {
			errs[id] = err
			continue
		}
		full[id] = hs
	}
	return full, errs
}

func (c *client) bulkChangelogs(ctx context.Context, ids []string, into map[string][]jira.ChangelogHistory) error {
	for chunk := range slices.Chunk(ids, bulkMaxIssues) {
		for _, id := range chunk {
			into[id] = []jira.ChangelogHistory{} // an issue without status changes has none
		}
		body := bulkChangelogRequest{IssueIDsOrKeys: chunk, FieldIDs: []string{"status"}, MaxResults: 1000}
		for {
			var out bulkChangelogResponse
			if err := c.do(ctx, http.MethodPost, "rest/api/3/changelog/bulkfetch", body, &out); err != nil {
				return err
			}
			for _, l := range out.IssueChangeLogs {
				for _, bh := range l.ChangeHistories {
					h, err := bh.history()
					if err != nil {
						return fmt.Errorf("POST /rest/api/3/changelog/bulkfetch: issue %s: %w", l.IssueID, err)
					}
					into[l.IssueID] = append(into[l.IssueID], h)
				}
			}
			if out.NextPageToken == "" || len(out.IssueChangeLogs) == 0 {
				break
			}
			body.NextPageToken = out.NextPageToken
		}
	}
	return nil
}

// changelog reads the complete changelog of one issue. Cloud pages through
// /rest/api/3/issue/{id}/changelog; Server / Data Center returns the whole
// changelog with /rest/api/2/issue/{id}?expand=changelog.
func (c *client) changelog(ctx context.Context, issueID string) ([]jira.ChangelogHistory, error) {
	if c.flavor == Server {
		var is apiIssue
		path := "rest/api/2/issue/" + url.PathEscape(issueID) + "?fields=status&expand=changelog"
		if err := c.do(ctx, http.MethodGet, path, nil, &is); err != nil {
			return nil, err
		}
		if is.Changelog == nil {
			return nil, nil
		}
		if n := len(is.Changelog.Histories); is.Changelog.Total > n {
			return nil, fmt.Errorf("changelog of issue %s: got %d of %d histories from GET /%s", issueID, n, is.Changelog.Total, path)
		}
		return is.Changelog.Histories, nil
	}
	var all []jira.ChangelogHistory
	for startAt := 0; ; {
		path := fmt.Sprintf("rest/api/3/issue/%s/changelog?startAt=%d&maxResults=%d", url.PathEscape(issueID), startAt, c.pageSize)
		var page changelogValues
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Values...)
		startAt = page.StartAt + len(page.Values)
		last := len(page.Values) == 0 || startAt >= page.Total
		if page.IsLast != nil {
			last = *page.IsLast || len(page.Values) == 0
		}
		if last {
			return all, nil
		}
	}
}
