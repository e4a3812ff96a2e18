package jira

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	jira "github.com/andygrunwald/go-jira"
)

func mustReadFixture(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode testdata/%s: %v", name, err)
	}
}

// The client's page types decode Atlassian's own examples.
func TestDecodeRealPayloads(t *testing.T) {
	var page changelogValues
	mustReadFixture(t, "issue-changelog-get.json", &page)
	if page.StartAt != 2 || page.Total != 5 || page.IsLast == nil || *page.IsLast || len(page.Values) != 2 {
		t.Errorf("changelog page = startAt %d total %d isLast %v values %d, want 2, 5, false, 2", page.StartAt, page.Total, page.IsLast, len(page.Values))
	}
	if at, err := page.Values[0].CreatedTime(); err != nil || !at.Equal(time.Date(1970, 1, 18, 6, 27, 50, 429e6, time.UTC)) {
		t.Errorf("first history created = %v, %v", at, err)
	}

	var bulk bulkChangelogResponse
	mustReadFixture(t, "changelog-bulkfetch-post.json", &bulk)
	if len(bulk.IssueChangeLogs) != 1 || bulk.NextPageToken != "UxAQBFRF" {
		t.Fatalf("bulk changelog = %+v", bulk)
	}
	h, err := bulk.IssueChangeLogs[0].ChangeHistories[0].history()
	if err != nil {
		t.Fatalf("history(): %v", err)
	}
	if at, err := h.CreatedTime(); err != nil || !at.Equal(time.Unix(1492070429, 0)) {
		t.Errorf("bulk history created %q = %v, %v, want 2017-04-13T08:00:29Z from epoch seconds", h.Created, at, err)
	}

	var statuses []jira.Status
	mustReadFixture(t, "statuses-list.json", &statuses)
	idx := newStatusIndex(statuses)
	for _, tt := range []struct{ id, name, want string }{
		{"1", "", "new"},
		{"10000", "", "undefined"},
		{"", "idea", "new"},
		{"999", "Nope", ""},
	} {
		if got := idx.category(tt.id, tt.name); got != tt.want {
			t.Errorf("category(%q, %q) = %q, want %q", tt.id, tt.name, got, tt.want)
		}
	}
}
