package jira

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// maxSeen caps how many issues a cursor remembers; past it nothing is skipped.
const maxSeen = 500

// projectCursor is where a project's last successful run left off: the largest
// `updated` it stored, and the issues it stored within the overlap window
// before that, by id with their `updated` (unix ms). The next run's JQL reaches
// back over that window (JQL has minute precision, and Jira's index may lag),
// and skips the issues it finds unchanged in Seen, so overlap costs no
// changelog requests and writes nothing twice. An issue the index showed late
// is not in Seen and is read.
type projectCursor struct {
	Updated time.Time        `json:"updated"`
	Seen    map[string]int64 `json:"seen,omitempty"`
}

func parseCursor(v string) (projectCursor, error) {
	var c projectCursor
	if !strings.HasPrefix(v, "{") {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return c, fmt.Errorf("cursor %q: %w", v, err)
		}
		return projectCursor{Updated: t}, nil
	}
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return c, fmt.Errorf("cursor %q: %w", v, err)
	}
	return c, nil
}

func (c projectCursor) String() string {
	b, _ := json.Marshal(c) // a time and a map of strings to ints always encode
	return string(b)
}

// unchanged reports whether the issue was stored with this very update.
func (c projectCursor) unchanged(id string, updated time.Time) bool {
	ms, ok := c.Seen[id]
	return ok && ms == updated.UnixMilli()
}

// advance returns the cursor after a run that stored the issues in stored
// (id → updated), keeping in Seen those within window of the new Updated.
func (c projectCursor) advance(stored map[string]time.Time, window time.Duration) projectCursor {
	next := projectCursor{Updated: c.Updated, Seen: map[string]int64{}}
	for _, u := range stored {
		if u.After(next.Updated) {
			next.Updated = u.UTC()
		}
	}
	from := next.Updated.Add(-window).UnixMilli()
	for id, ms := range c.Seen {
		if ms >= from {
			next.Seen[id] = ms
		}
	}
	for id, u := range stored {
		if ms := u.UnixMilli(); ms >= from {
			next.Seen[id] = ms
		}
	}
	if len(next.Seen) > maxSeen {
		next.Seen = nil
	}
	return next
}

// equal reports whether two cursors say the same.
func (c projectCursor) equal(o projectCursor) bool {
	return c.Updated.Equal(o.Updated) && maps.Equal(c.Seen, o.Seen)
}
