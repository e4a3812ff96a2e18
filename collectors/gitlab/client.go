package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/githost"
)

// noLimit turns off the client's own rate limiter: collectors.Transport waits
// out GitLab's limits from its RateLimit-* headers for every source alike.
type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

// newAPI returns a GitLab client for base (the instance URL) authenticating
// with token, sending every request through hc. The client's own retries and
// limiter are off: hc's collectors.Transport retries and waits.
func newAPI(base, token string, hc *http.Client, logger *slog.Logger) (*gl.Client, error) {
	api, err := apiURL(base)
	if err != nil {
		return nil, err
	}
	c, err := gl.NewClient(token,
		gl.WithBaseURL(api),
		gl.WithHTTPClient(hc),
		gl.WithoutRetries(),
		gl.WithCustomLimiter(noLimit{}),
		gl.WithUserAgent("yardstick"),
		gl.WithURLWarningLogger(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab client for %s: %w", api, err)
	}
	return c, nil
}

// httpClient puts hc (http.DefaultClient when nil) under the shared transport,
// unless its transport already is one.
func httpClient(hc *http.Client, retry collectors.RetryConfig) *http.Client {
	if hc == nil {
		hc = &http.Client{}
	}
	if _, ok := hc.Transport.(*collectors.Transport); ok {
		return hc
	}
	out := *hc
	out.Transport = collectors.NewTransport(hc.Transport, SourceName, retry, nil)
	return &out
}

// apiError turns a client error into one naming the operation and, when GitLab
// answered, wrapping a *collectors.HTTPError with method, endpoint and status.
func apiError(op string, resp *gl.Response, err error) error {
	if err == nil {
		return nil
	}
	if resp == nil || resp.Response == nil || resp.Request == nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if resp.StatusCode < 300 {
		// GitLab answered, the body did not decode.
		return fmt.Errorf("%s: %s %s: status %d: %w", op, resp.Request.Method, resp.Request.URL.RequestURI(), resp.StatusCode, err)
	}
	he := &collectors.HTTPError{Method: resp.Request.Method, Endpoint: resp.Request.URL.RequestURI(), Status: resp.StatusCode}
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		he.Body = er.Message
		if he.Body == "" {
			he.Body = strings.TrimSpace(string(er.Body))
		}
		if len(he.Body) > 200 {
			he.Body = he.Body[:200]
		}
	}
	return fmt.Errorf("%s: %w", op, he)
}

// isNotFound and statusOf are githost's.
var (
	isNotFound = githost.IsNotFound
	statusOf   = githost.StatusOf
)

// isDenied reports 401/403/404 answers to an optional endpoint (a Premium
// feature on a Free instance, or a token without the right role).
func isDenied(err error) bool {
	s := statusOf(err)
	return s == http.StatusForbidden || s == http.StatusNotFound || s == http.StatusUnauthorized
}

// eachPage calls list for page 1, 2, … while GitLab names a next page in
// X-Next-Page (offset pagination; GitLab sends it even where it leaves out
// X-Total on large lists).
func eachPage(list func(page int64) (*gl.Response, bool, error)) error {
	for page := int64(1); page > 0; {
		resp, stop, err := list(page)
		if err != nil {
			return err
		}
		if stop || resp == nil {
			return nil
		}
		next := resp.NextPage
		if next <= page {
			return nil
		}
		page = next
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
