package githost

import (
	"context"
	"errors"
	"net/http"

	"github.com/yardstick-dev/yardstick/collectors"
)

// StatusOf returns the HTTP status inside err, 0 when the host did not answer.
func StatusOf(err error) int {
	var he *collectors.HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// IsNotFound reports a 404 answer.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// Fatal reports whether a section error should stop a repository's sync:
// cancellations, no answer, server trouble, bad credentials and spent rate
// limits (429) do; answers about one endpoint (403, 404, 422) do not.
func Fatal(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch s := StatusOf(err); {
	case s == 0, s >= 500, s == http.StatusUnauthorized, s == http.StatusTooManyRequests:
		return true
	}
	return false
}
