package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// client is the thin layer over go-github that every request of the collector
// goes through: conditional GETs, Link-header pagination and errors that name the
// endpoint and status. Safe for concurrent use.
type client struct {
	gh *gh.Client
}

// response is what one GET answered besides its body.
type response struct {
	status int    // 200, or 304 when the ETag still matched
	etag   string // ETag of the answer, "" when the server sent none
	next   string // URL of the next page from the Link header, "" on the last page
}

func (r response) notModified() bool { return r.status == http.StatusNotModified }

// newClient builds the go-github client on hc, whose transport should be a
// *collectors.Transport (it retries and waits out rate limits). auth adds credentials.
func newClient(base *url.URL, hc *http.Client, auth func(next http.RoundTripper) http.RoundTripper) *client {
	inner := hc.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	c := *hc
	c.Transport = auth(scrubRateHeaders{next: inner})
	g := gh.NewClient(&c)
	b := *base
	g.BaseURL = &b
	g.UploadURL = &b
	g.UserAgent = "yardstick"
	return &client{gh: g}
}

// get reads path (relative to the base URL, or an absolute next-page URL) into v.
// With a non-empty etag it sends If-None-Match and reports a 304 without error,
// leaving v untouched. Any other non-2xx answer is an error wrapping a
// *collectors.HTTPError that names the endpoint and status.
func (c *client) get(ctx context.Context, path, etag string, v any) (response, error) {
	req, err := c.gh.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return response{}, fmt.Errorf("build request GET %s: %w", path, err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.gh.Do(ctx, req, v)
	if resp != nil && resp.StatusCode == http.StatusNotModified {
		return response{status: http.StatusNotModified, etag: etagOr(resp.Header.Get("ETag"), etag)}, nil
	}
	if err != nil {
		return response{}, httpError(http.MethodGet, req.URL, resp, err)
	}
	return response{status: resp.StatusCode, etag: resp.Header.Get("ETag"), next: nextLink(resp.Header.Get("Link"))}, nil
}

// post sends body as JSON to path and decodes the answer into v.
func (c *client) post(ctx context.Context, path string, body, v any) error {
	req, err := c.gh.NewRequest(http.MethodPost, path, body)
	if err != nil {
		return fmt.Errorf("build request POST %s: %w", path, err)
	}
	resp, err := c.gh.Do(ctx, req, v)
	if err != nil {
		return httpError(http.MethodPost, req.URL, resp, err)
	}
	return nil
}

func etagOr(etag, fallback string) string {
	if etag != "" {
		return etag
	}
	return fallback
}

// httpError turns a go-github failure into a *collectors.HTTPError when the server
// answered, keeping transport and decoding errors as they are.
func httpError(method string, u *url.URL, resp *gh.Response, err error) error {
	endpoint := u.EscapedPath()
	if u.RawQuery != "" {
		endpoint += "?" + u.RawQuery
	}
	if resp == nil || resp.Response == nil || resp.StatusCode < 300 {
		return fmt.Errorf("%s %s: %w", method, endpoint, err)
	}
	he := &collectors.HTTPError{Method: method, Endpoint: endpoint, Status: resp.StatusCode}
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		he.Body = er.Message
	}
	return he
}

// isNotFound and statusOf are githost's.
var (
	isNotFound = githost.IsNotFound
	statusOf   = githost.StatusOf
)

// nextLink returns the rel="next" URL of a Link header.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		target := strings.TrimSpace(segs[0])
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		for _, p := range segs[1:] {
			if strings.TrimSpace(p) == `rel="next"` {
				return target[1 : len(target)-1]
			}
		}
	}
	return ""
}

// scrubRateHeaders removes the rate-limit headers from answers before go-github
// sees them. collectors.Transport below has already acted on them (it waits out
// spent windows and retries); go-github's own limiter would instead fail the next
// request without sending it, on the wall clock.
type scrubRateHeaders struct{ next http.RoundTripper }

func (s scrubRateHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if resp != nil {
		for _, h := range []string{"X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Limit", "X-RateLimit-Used", "Retry-After"} {
			resp.Header.Del(h)
		}
	}
	return resp, err
}

// tokenAuth adds a static token to every request.
type tokenAuth struct {
	token string
	next  http.RoundTripper
}

func (t tokenAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}
