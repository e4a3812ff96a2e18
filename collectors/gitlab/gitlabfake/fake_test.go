package gitlabfake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestFakeSpeaksLikeGitLab(t *testing.T) {
	s := New(Options{Projects: []string{"acme/sub/api"}, Token: "tok"})
	defer s.Close()
	base := s.URL + "/api/v4/projects/acme%2Fsub%2Fapi"

	if resp, body := get(t, base, ""); resp.StatusCode != 401 || !strings.Contains(body, `"message":"401 Unauthorized"`) {
		t.Errorf("no token: %d %s", resp.StatusCode, body)
	}
	resp, body := get(t, base+"/repository/commits?per_page=20&page=2", "tok")
	var commits []map[string]any
	if err := json.Unmarshal([]byte(body), &commits); err != nil || resp.StatusCode != 200 {
		t.Fatalf("commits page 2: %d %v", resp.StatusCode, err)
	}
	h := resp.Header
	if h.Get("X-Page") != "2" || h.Get("X-Per-Page") != "20" || h.Get("X-Next-Page") != "3" || h.Get("X-Prev-Page") != "1" ||
		h.Get("X-Total") != "49" || h.Get("X-Total-Pages") != "3" || !strings.Contains(h.Get("Link"), `page=3&per_page=20>; rel="next"`) {
		t.Errorf("pagination headers %v", h)
	}
	if len(commits) != 20 || commits[0]["id"] == nil || commits[0]["authored_date"] == nil || commits[0]["parent_ids"] == nil {
		t.Errorf("commit page: %d items, first %v", len(commits), commits[0])
	}
	if h.Get("RateLimit-Limit") == "" || h.Get("RateLimit-Remaining") == "" || h.Get("RateLimit-Reset") == "" {
		t.Errorf("rate-limit headers missing: %v", h)
	}
	if resp, _ := get(t, base+"/repository/commits?page=3&per_page=20", "tok"); resp.Header.Get("X-Next-Page") != "" {
		t.Errorf("last page names a next page %q", resp.Header.Get("X-Next-Page"))
	}

	s.RateLimitNext(1)
	if resp, body := get(t, base, "tok"); resp.StatusCode != 429 || body != "Retry later\n" || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("throttled: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	s.FailNext(1, 503)
	if resp, _ := get(t, base, "tok"); resp.StatusCode != 503 {
		t.Errorf("injected fault: %d", resp.StatusCode)
	}
	if resp, body := get(t, base, "tok"); resp.StatusCode != 200 || !strings.Contains(body, `"path_with_namespace":"acme/sub/api"`) {
		t.Errorf("project: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, s.URL+"/api/v4/projects/acme%2Fnone", "tok"); resp.StatusCode != 404 {
		t.Errorf("unknown project: %d", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/protected_branches/main", "tok"); resp.StatusCode != 200 {
		t.Errorf("the first project's main branch is protected: %d", resp.StatusCode)
	}
	if resp, body := get(t, base+"/repository/files/go.mod/raw?ref=main", "tok"); resp.StatusCode != 200 || !strings.HasPrefix(body, "module example.com/acme/sub/api") {
		t.Errorf("raw go.mod: %d %q", resp.StatusCode, body)
	}
	if st := s.Stats(); st.Statuses[429] != 1 || st.Statuses[503] != 1 || st.ByProject["acme/sub/api"] < 8 {
		t.Errorf("stats %+v", st)
	}
}
