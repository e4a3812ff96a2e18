package jirafake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func mustServe(t *testing.T, s *Server, method, target, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.SetBasicAuth("u@example.com", "tok")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, b
}

func TestJQLParseAndMatch(t *testing.T) {
	s := New(Options{Projects: []string{"AAA"}, TimeZone: "Europe/Berlin"})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tt := range []struct {
		jql, wantErr string
	}{
		{`project = "AAA" AND updated >= "2024-01-02 10:00" ORDER BY created ASC, key ASC`, ""},
		{`(project = AAA) OR (project = "AAA" AND (component = "api" OR labels = "a\"b"))`, ""},
		{`project in ("AAA") AND issuetype in ("Bug") AND statusCategory != Done`, ""},
		{`project = "NOPE"`, "The value 'NOPE' does not exist for the field 'project'."},
		{`component = "nothing"`, "The value 'nothing' does not exist for the field 'component'."},
		{`colour = red`, "Field 'colour' does not exist"},
		{`updated >= "yesterday"`, "Date value 'yesterday' for field 'updated' is invalid"},
		{`project = "AAA`, "has not been completed"},
		{`project = AAA AND`, "Expecting a field name"},
	} {
		q, err := parseJQL(tt.jql)
		if err == nil {
			err = s.validate(q.where, berlin)
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parse %s = %v, want no error", tt.jql, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parse %s = %v, want an error containing %q", tt.jql, err, tt.wantErr)
		}
	}
	q, err := parseJQL(`labels = "a\"b"`)
	if err != nil || q.where.values[0] != `a"b` {
		t.Fatalf(`parse labels = "a\"b" = %+v, %v, want the value a"b`, q.where, err)
	}
	// Dates are read in the user's zone: 10:00 Berlin is 09:00 UTC in winter.
	is := &issue{updated: time.Date(2024, 1, 2, 9, 30, 0, 0, time.UTC), project: s.projects[0], status: statusToDo.id}
	for jql, want := range map[string]bool{
		`updated >= "2024-01-02 10:00"`: true,
		`updated >= "2024-01-02 10:31"`: false,
		`updated < "2024-01-02 10:31"`:  true,
	} {
		q, err := parseJQL(jql)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.match(q.where, is, berlin); got != want {
			t.Errorf("match(%s) for updated 09:30Z = %v, want %v", jql, got, want)
		}
	}
}

func TestEndpointsSpeakLikeJira(t *testing.T) {
	cloud := New(Options{Projects: []string{"AAA"}, Email: "u@example.com", APIToken: "tok"})
	if code, body := mustServe(t, cloud, http.MethodPost, "/rest/api/3/search", `{"jql":"project = AAA"}`); code != http.StatusGone || !bytes.Contains(body, []byte("/rest/api/3/search/jql")) {
		t.Errorf("cloud POST /rest/api/3/search = %d %s, want 410 pointing to /search/jql", code, body)
	}
	code, body := mustServe(t, cloud, http.MethodPost, "/rest/api/3/search/jql", `{"jql":"project = AAA","maxResults":5}`)
	var page struct {
		Issues        []map[string]any `json:"issues"`
		NextPageToken string           `json:"nextPageToken"`
		IsLast        bool             `json:"isLast"`
	}
	if err := json.Unmarshal(body, &page); err != nil || code != http.StatusOK {
		t.Fatalf("POST /rest/api/3/search/jql = %d %s", code, body)
	}
	if len(page.Issues) != 5 || page.IsLast || page.NextPageToken == "" {
		t.Errorf("first page = %d issues, isLast %v, token %q; want 5, false, a token", len(page.Issues), page.IsLast, page.NextPageToken)
	}
	if _, ok := page.Issues[0]["fields"]; ok {
		t.Errorf("enhanced search without fields returned fields, want ids only: %v", page.Issues[0])
	}
	if code, _ := mustServe(t, cloud, http.MethodPost, "/rest/api/3/search/jql", `{"jql":"project = AAA ORDER BY key DESC","nextPageToken":"`+page.NextPageToken+`"}`); code != http.StatusBadRequest {
		t.Errorf("token of another query = %d, want 400", code)
	}
	req := httptest.NewRequest(http.MethodGet, "/rest/api/2/myself", nil)
	rec := httptest.NewRecorder()
	cloud.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unauthenticated GET /rest/api/2/myself = %d, want 401", rec.Code)
	}

	server := New(Options{Flavor: "server", Projects: []string{"AAA"}})
	if code, _ := mustServe(t, server, http.MethodPost, "/rest/api/2/search/jql", `{"jql":"project = AAA"}`); code != http.StatusNotFound {
		t.Errorf("server POST /rest/api/2/search/jql = %d, want 404", code)
	}
	code, body = mustServe(t, server, http.MethodGet, "/rest/api/2/search?jql=project%3DAAA&startAt=20&maxResults=10", "")
	var sp struct{ StartAt, MaxResults, Total int }
	if err := json.Unmarshal(body, &sp); err != nil || code != http.StatusOK || sp.StartAt != 20 || sp.Total != 24 {
		t.Errorf("server GET /rest/api/2/search = %d %+v, want startAt 20 of 24", code, sp)
	}
	if n := server.RequestCounts()["GET /rest/api/2/search"]; n != 1 {
		t.Errorf("counted GET /rest/api/2/search = %d, want 1", n)
	}
}

func TestDeterministic(t *testing.T) {
	body := `{"jql":"project in (AAA, BBB) ORDER BY created ASC","fields":["*all"],"expand":"changelog","maxResults":50}`
	_, a := mustServe(t, New(Options{Projects: []string{"AAA", "BBB"}}), http.MethodPost, "/rest/api/3/search/jql", body)
	_, b := mustServe(t, New(Options{Projects: []string{"AAA", "BBB"}}), http.MethodPost, "/rest/api/3/search/jql", body)
	if !bytes.Equal(a, b) || len(a) < 1000 {
		t.Errorf("two fakes with the same options answered differently (%d and %d bytes)", len(a), len(b))
	}
}
