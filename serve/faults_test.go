package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
)

const faultSecret yardstick.Secret = "fault-injection-secret"

// faultRig is `serve` on a ClickHouse of its own (started by the store's
// launcher), with the GitHub webhook writing through the spool.
type faultRig struct {
	db     *store.DB
	spool  *spool.Spool
	url    string
	client *http.Client
	body   []byte // a real pull_request.opened delivery

	mu    sync.Mutex
	acked []int // pull request numbers of deliveries answered 2xx
}

func mustFaultRig(t *testing.T) *faultRig {
	t.Helper()
	if _, err := store.FindClickHouse(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	body, err := os.ReadFile(filepath.Join("testdata", "webhooks", "pull_request.opened.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, store.Config{DataDir: filepath.Join(dir, "data"), Logger: logger,
		ReadTimeout: time.Second, WriteTimeout: 2 * time.Second, ScopesOf: github.Source().Scopes})
	if err != nil {
		t.Fatalf("store.Open() = %v", err)
	}
	entity := yardstick.Entity{Ref: yardstick.NewEntityRef("component", "default", "hello-world"), Owner: "group:default/octo",
		Annotations: map[string]string{github.AnnotationSlug: "Codertocat/Hello-World"}}
	if _, err := db.ReplaceCatalog(ctx, []yardstick.Entity{entity}); err != nil {
		t.Fatal(err)
	}
	fake := githubfake.New(githubfake.Options{Repos: []string{"codertocat/hello-world"}, Token: "t"})
	c, err := github.New(github.Config{BaseURL: fake.URL, Token: "t"}, fake.Client(), github.Deps{Cursors: db, Catalog: db}, logger)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	sp, err := spool.Open(spool.Config{Dir: filepath.Join(dir, "data", "spool"), Registerer: reg, Logger: logger}, db)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.WebhookHandler(sp, github.WebhookConfig{Secret: faultSecret})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Start(ctx, Config{Listen: "127.0.0.1:0", RequestTimeout: 3 * time.Second}, Deps{
		DB: db, Rules: func() *checks.RuleSet { return nil }, Webhooks: map[string]http.Handler{"github": h},
		Spool: sp, Registry: reg, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fake.Close()
		cancel()
		if err := r.Wait(); err != nil {
			t.Errorf("serve stopped with %v", err)
		}
		pid := db.Server().PID()
		if err := db.Close(); err != nil {
			t.Errorf("db.Close() = %v", err)
		}
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			t.Errorf("clickhouse %d still running after Close", pid)
		}
	})
	// A generous client timeout: a hang shows as an error, not a stuck test.
	return &faultRig{db: db, spool: sp, url: r.URL, client: &http.Client{Timeout: 30 * time.Second}, body: body}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// deliver sends the real payload as pull request n, signed like GitHub does.
func (r *faultRig) deliver(t *testing.T, n int) int {
	t.Helper()
	body := bytes.ReplaceAll(r.body, []byte(`"number": 2,`), []byte(fmt.Sprintf(`"number": %d,`, n)))
	req, _ := http.NewRequest(http.MethodPost, r.url+"webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("delivery-%d", n))
	req.Header.Set("X-Hub-Signature-256", github.Sign(faultSecret, body))
	resp, err := r.client.Do(req)
	if err != nil {
		t.Errorf("webhook %d: %v", n, err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		r.mu.Lock()
		r.acked = append(r.acked, n)
		r.mu.Unlock()
	}
	return resp.StatusCode
}

func (r *faultRig) get(t *testing.T, path string) *http.Response {
	t.Helper()
	resp, err := r.client.Get(r.url + path)
	if err != nil {
		t.Errorf("GET /%s: %v (a hang past every deadline)", path, err)
		return &http.Response{StatusCode: 0, Header: http.Header{}}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (r *faultRig) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for r.get(t, "readyz").StatusCode != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within %s", within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClickHouseStoppedAndKilledUnderServe: the issue 10 fault rows "ClickHouse
// SIGSTOPped under serve" (pages, API and webhooks hung up to 300s; deliveries
// refused, not kept) and "ClickHouse killed under serve" (never restarted).
// Webhooks arrive throughout; every delivery acknowledged must be stored.
func TestClickHouseStoppedAndKilledUnderServe(t *testing.T) {
	r := mustFaultRig(t)
	next := 1000
	send := func(phase string, count int) {
		t.Helper()
		for i := 0; i < count; i++ {
			next++
			if code := r.deliver(t, next); code/100 != 2 {
				t.Errorf("%s: webhook %d = %d, want 2xx (the spool keeps it)", phase, next, code)
			}
		}
	}
	send("ClickHouse up", 10)
	// With ClickHouse up the page answers 200. A first render slower than the
	// rig's 1s read timeout (a loaded machine) answers 503 with Retry-After,
	// as designed; the render then completes and a retry gets the page.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		resp := r.get(t, "")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || time.Now().After(deadline) {
			t.Fatalf("GET / with ClickHouse up = %d (Retry-After %q)", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}

	// SIGSTOP: nothing hangs; pages either come from what is cached or are 503
	// with Retry-After; /readyz says not ready, /healthz stays alive.
	pid := r.db.Server().PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	send("ClickHouse stopped", 20)
	if resp := r.get(t, "readyz"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz with ClickHouse stopped = %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := r.get(t, "healthz").StatusCode; code != http.StatusOK {
		t.Errorf("/healthz with ClickHouse stopped = %d, want 200 (liveness)", code)
	}
	unavailable := 0
	for _, path := range []string{"", "squads", "entities/component/default/hello-world", "api/v1/overview", "api/v1/entities/component/default/hello-world"} {
		resp := r.get(t, path)
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
			unavailable++
		case resp.StatusCode == http.StatusOK: // served from a cache the outage did not touch
		default:
			t.Errorf("GET /%s with ClickHouse stopped = %d, want 503 with Retry-After (or 200 from cache)", path, resp.StatusCode)
		}
	}
	if unavailable == 0 {
		t.Error("no page answered 503 with ClickHouse stopped")
	}
	if st := r.spool.Stats(); st.Records == 0 {
		t.Error("spool empty while ClickHouse is stopped: deliveries were not kept for later")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	r.waitReady(t, time.Minute)

	// SIGKILL: the supervisor restarts it; deliveries keep being acknowledged.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	send("ClickHouse killed", 20)
	r.waitReady(t, 2*time.Minute)
	for deadline := time.Now().Add(time.Minute); r.db.Server().Restarts() < 1 || r.db.Server().PID() == pid; {
		if time.Now().After(deadline) {
			t.Fatalf("Restarts() after SIGKILL = %d (pid %d), want a restarted server", r.db.Server().Restarts(), r.db.Server().PID())
		}
		time.Sleep(50 * time.Millisecond)
	}
	send("ClickHouse restarted", 10)

	// Every acknowledged delivery ends in the store.
	deadline := time.Now().Add(2 * time.Minute)
	for r.spool.Stats().Records > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %+v", r.spool.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ids, err := r.db.EventIDs(context.Background(), "github", yardstick.ChangeOpened, github.RepoScope("codertocat/hello-world"))
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, id := range ids {
		stored[id] = true
	}
	var lost []int
	for _, n := range r.acked {
		if !stored[strconv.Itoa(n)] {
			lost = append(lost, n)
		}
	}
	sort.Ints(lost)
	if len(r.acked) != 60 || len(lost) > 0 {
		t.Errorf("acknowledged %d of 60 deliveries; %d acknowledged not stored: %v", len(r.acked), len(lost), lost)
	}
	t.Logf("acknowledged deliveries stored: %d/%d (100%%)", len(r.acked)-len(lost), len(r.acked))
}
