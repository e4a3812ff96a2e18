// Package collectors holds what every source collector shares: the Collector and
// Writer interfaces, the runner that keeps watermarks and metrics, and the HTTP
// transport that retries rate limits and server faults the same way for every API.
package collectors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// A Collector copies one source's changes since a watermark into w.
// A zero since means a full sync (within the collector's backfill window).
// next is the largest source timestamp seen, never time.Now().
type Collector interface {
	Name() string // stable: metric label and log attribute
	Collect(ctx context.Context, since time.Time, w Writer) (next time.Time, err error)
}

// Writer stores what a collector read. Implementations are idempotent: writing
// the same event or fact identity twice keeps one row. Safe for concurrent use.
type Writer interface {
	WriteEvents(ctx context.Context, events []yardstick.Event) error
	WriteFacts(ctx context.Context, facts []yardstick.Fact) error
}

// CursorStore keeps small named strings between runs: watermarks, per-scope
// cursors, ETags. Cursor returns "" and no error when the key was never saved.
type CursorStore interface {
	Cursor(ctx context.Context, key string) (string, error)
	SaveCursor(ctx context.Context, key, value string) error
}

// Catalog lists what collectors need from the catalog: which source scopes exist
// and which entity owns each. Implementations return the current catalog only.
type Catalog interface {
	ScopeMappings(ctx context.Context) ([]yardstick.ScopeMapping, error)
	Entities(ctx context.Context) ([]yardstick.Entity, error)
}

// Failure is one scope of one run that could not be collected.
type Failure struct {
	Scope    yardstick.Scope
	Endpoint string // "GET /repos/acme/api/pulls"
	Status   int    // HTTP status, 0 for transport errors
	Err      error
}

func (f Failure) String() string {
	var b strings.Builder
	b.WriteString(string(f.Scope))
	if f.Endpoint != "" {
		b.WriteString(": " + f.Endpoint)
	}
	if f.Status != 0 {
		fmt.Fprintf(&b, ": status %d", f.Status)
	}
	if f.Err != nil {
		b.WriteString(": " + f.Err.Error())
	}
	return b.String()
}

// PartialError reports the scopes that failed while the others were collected.
// Collectors return it so that one failing repository or project never stops the rest.
type PartialError struct {
	Collector string
	Failures  []Failure
}

func (e *PartialError) Error() string {
	lines := make([]string, 0, len(e.Failures))
	for _, f := range e.Failures {
		lines = append(lines, "  "+f.String())
	}
	return fmt.Sprintf("%s: %d scope(s) failed:\n%s", e.Collector, len(e.Failures), strings.Join(lines, "\n"))
}

// Unwrap lets errors.Is see the causes.
func (e *PartialError) Unwrap() []error {
	out := make([]error, 0, len(e.Failures))
	for _, f := range e.Failures {
		if f.Err != nil {
			out = append(out, f.Err)
		}
	}
	return out
}

// Failures returns the failures inside err when it is (or wraps) a *PartialError.
func Failures(err error) []Failure {
	var pe *PartialError
	if errors.As(err, &pe) {
		return pe.Failures
	}
	return nil
}

// HTTPError is a non-success answer of a source API, kept with where it came from.
type HTTPError struct {
	Method   string
	Endpoint string // path and query, no host, no secrets
	Status   int
	Body     string // first bytes of the body, for the run summary
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: status %d", e.Method, e.Endpoint, e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// FailureFrom builds a Failure for scope from err, lifting endpoint and status
// out of an *HTTPError when err wraps one.
func FailureFrom(scope yardstick.Scope, endpoint string, err error) Failure {
	f := Failure{Scope: scope, Endpoint: endpoint, Err: err}
	var he *HTTPError
	if errors.As(err, &he) {
		f.Status = he.Status
		if f.Endpoint == "" {
			f.Endpoint = he.Method + " " + he.Endpoint
		}
	}
	return f
}
