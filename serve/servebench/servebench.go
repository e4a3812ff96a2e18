// Package servebench holds the whole-process measurements of serve (make
// bench): mixed load on the demo organisation (pages, API, signed webhooks),
// and webhooks during a ClickHouse outage. cmd/yardstick runs them as
// `yardstick bench load` and `yardstick bench outage`.
package servebench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	gh "github.com/google/go-github/v62/github"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/github"
	"github.com/yardstick-dev/yardstick/collectors/github/githubfake"
	"github.com/yardstick-dev/yardstick/serve"
	"github.com/yardstick-dev/yardstick/spool"
	"github.com/yardstick-dev/yardstick/store"
)

// benchSecret signs the benchmarks' webhook deliveries.
const benchSecret yardstick.Secret = "bench-webhook-secret"

// ErrFailed says a measurement saw errors or lost deliveries (it printed them).
var ErrFailed = errors.New("bench failed")

// Env is what the benchmarks need from the binary.
type Env struct {
	Out      io.Writer
	Now      func() time.Time
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Metrics  *collectors.Metrics
	// OpenStore opens the configured store; RunDemo loads the demo
	// organisation into it; ServeDeps builds what serve runs on it.
	OpenStore func(ctx context.Context) (*store.DB, error)
	// ScopesOf is the sources' (store.Config.ScopesOf), for a store a
	// benchmark opens itself: without it the catalog maps no repository, and
	// the webhook ignores every delivery.
	ScopesOf  func(yardstick.Entity) []yardstick.Scope
	RunDemo   func(ctx context.Context, db *store.DB) error
	ServeDeps func(ctx context.Context, db *store.DB) (serve.Config, serve.Deps, error)
	// Serve is the serve section; ReadTimeout and WriteTimeout the store's.
	Serve                     serve.Config
	ReadTimeout, WriteTimeout time.Duration
}

// benchDelivery is a pull_request "opened" delivery for pull request n of
// slug, shaped by go-github's own types as GitHub sends it.
func benchDelivery(slug string, n int, at time.Time) []byte {
	ts := &gh.Timestamp{Time: at.UTC().Truncate(time.Second)}
	pr := &gh.PullRequest{
		Number: gh.Int(n), State: gh.String("open"), Title: gh.String(fmt.Sprintf("bench change %d", n)),
		CreatedAt: ts, UpdatedAt: ts, User: &gh.User{Login: gh.String("bench")},
		Base:    &gh.PullRequestBranch{Ref: gh.String("main"), SHA: gh.String("0000000000000000000000000000000000000001")},
		Head:    &gh.PullRequestBranch{Ref: gh.String(fmt.Sprintf("change-%d", n)), SHA: gh.String(fmt.Sprintf("%040x", n))},
		HTMLURL: gh.String(fmt.Sprintf("https://github.com/%s/pull/%d", slug, n)), Additions: gh.Int(10), Deletions: gh.Int(2),
	}
	b, _ := json.Marshal(&gh.PullRequestEvent{Action: gh.String("opened"), Number: gh.Int(n), PullRequest: pr,
		Repo: &gh.Repository{FullName: gh.String(slug), DefaultBranch: gh.String("main")}})
	return b
}

// benchWebhook is a GitHub webhook endpoint writing through a spool, as serve
// mounts it, with a fake GitHub API behind the collector.
func (e Env) benchWebhook(db *store.DB, sp *spool.Spool, slugs []string) (http.Handler, func(), error) {
	fake := githubfake.New(githubfake.Options{Repos: slugs, Epoch: e.Now(), Now: e.Now, Token: "bench"})
	c, err := github.New(github.Config{BaseURL: fake.URL, Token: "bench"}, collectors.Deps{Metrics: e.Metrics}.HTTPClientFor(github.SourceName, github.RetryConfig()),
		github.Deps{Cursors: db, Catalog: db, Events: db, Now: e.Now}, e.Logger)
	if err != nil {
		fake.Close()
		return nil, nil, err
	}
	h, err := c.WebhookHandler(sp, github.WebhookConfig{Secret: benchSecret})
	if err != nil {
		fake.Close()
		return nil, nil, err
	}
	return h, fake.Close, nil
}

// benchPost delivers body to the server's GitHub webhook and returns the
// answer's status and, for a 2xx answer that stored nothing, why (its
// "ignored" field): a delivery ignored, as one of a repository the catalog
// does not map is, was acknowledged but is not one the store must keep, and
// counting it as stored-to-be would make the benchmarks' loss check wrong.
func benchPost(client *http.Client, url string, n int, body []byte) (code int, ignored string, err error) {
	req, err := http.NewRequest(http.MethodPost, url+"webhooks/github", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", "bench-"+strconv.Itoa(n))
	req.Header.Set("X-Hub-Signature-256", github.Sign(benchSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, "", nil
	}
	var answer struct {
		Ignored string `json:"ignored"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return resp.StatusCode, "", fmt.Errorf("webhook answer %d: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, answer.Ignored, nil
}

// waitDrained waits until sp has written everything to the store.
func waitDrained(ctx context.Context, sp *spool.Spool, within time.Duration) error {
	deadline := time.Now().Add(within)
	for sp.Stats().Records > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("spool not drained within %s: %+v", within, sp.Stats())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// storedShare counts which of the pull request numbers are stored in scope.
func storedShare(ctx context.Context, db *store.DB, slug string, acked []int) (int, error) {
	ids, err := db.EventIDs(ctx, "github", yardstick.ChangeOpened, github.RepoScope(slug))
	if err != nil {
		return 0, err
	}
	have := make(map[string]bool, len(ids))
	for _, id := range ids {
		have[id] = true
	}
	n := 0
	for _, a := range acked {
		if have[strconv.Itoa(a)] {
			n++
		}
	}
	return n, nil
}

type loadTarget struct {
	name, path string
	webhook    bool
}

func (e Env) Load(ctx context.Context, clients int, duration time.Duration) error {
	db, err := e.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := e.RunDemo(ctx, db); err != nil {
		return err
	}
	entities, err := db.Entities(ctx)
	if err != nil {
		return err
	}
	var squad, comp, slug string
	for _, e := range entities {
		if squad == "" && e.Ref.Kind() == "group" && e.Type == "squad" {
			squad = e.Ref.Name()
		}
		if s := e.Annotations[github.AnnotationSlug]; comp == "" && e.Ref.Kind() == "component" && s != "" {
			comp, slug = e.Ref.Name(), s
		}
	}
	if squad == "" || comp == "" {
		return errors.New("bench load: the demo catalog has no squad or no component with a GitHub slug")
	}
	cfg, deps, err := e.ServeDeps(ctx, db)
	if err != nil {
		return err
	}
	h, closeFake, err := e.benchWebhook(db, deps.Spool, []string{slug})
	if err != nil {
		return err
	}
	defer closeFake()
	deps.Webhooks["github"] = h
	cfg.Listen = "127.0.0.1:0"
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	r, err := serve.Start(sctx, cfg, deps)
	if err != nil {
		return err
	}
	// Let the runs at start (metrics refresh, scoring) finish first. A job
	// that runs only on its interval (notify: every 5 minutes) has a next run
	// and no last one from the start; waiting for its first run took five
	// minutes of every `bench load`.
	for deadline := time.Now().Add(10 * time.Minute); ; {
		busy := false
		for _, j := range r.Jobs() {
			busy = busy || j.Running || (j.LastRun.IsZero() && j.NextRun.IsZero())
		}
		if !busy || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	targets := []loadTarget{
		{name: "/", path: ""},
		{name: "/squads", path: "squads"},
		{name: "/squads/{squad}", path: "squads/default/" + squad},
		{name: "/entities/{component}", path: "entities/component/default/" + comp},
		{name: "/scorecards", path: "scorecards"},
		{name: "/campaigns", path: "campaigns"},
		{name: "/api/v1/overview", path: "api/v1/overview"},
		{name: "/api/v1/squads", path: "api/v1/squads"},
		{name: "/api/v1/entities/{component}", path: "api/v1/entities/component/default/" + comp},
		{name: "POST /webhooks/github", webhook: true},
	}
	type sample struct {
		target int
		took   time.Duration
		err    string
	}
	var (
		mu      sync.Mutex
		samples []sample
		acked   []int
		next    atomic.Int64
	)
	next.Store(1_000_000)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	end := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []sample
			var myAcked []int
			for i := c; time.Now().Before(end) && ctx.Err() == nil; i++ {
				k := i % len(targets)
				t := targets[k]
				start := time.Now()
				var code int
				var err error
				if t.webhook {
					n := int(next.Add(1))
					var ignored string
					code, ignored, err = benchPost(client, r.URL, n, benchDelivery(slug, n, e.Now()))
					switch {
					case err == nil && ignored != "":
						err = errors.New("ignored: " + ignored)
					case err == nil && code/100 == 2:
						myAcked = append(myAcked, n)
					}
				} else {
					var resp *http.Response
					if resp, err = client.Get(r.URL + t.path); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						code = resp.StatusCode
					}
				}
				s := sample{target: k, took: time.Since(start)}
				switch {
				case err != nil:
					s.err = err.Error()
				case code/100 != 2:
					s.err = "status " + strconv.Itoa(code)
				}
				mine = append(mine, s)
			}
			mu.Lock()
			samples = append(samples, mine...)
			acked = append(acked, myAcked...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := duration
	fmt.Fprintf(e.Out, "mixed load: %d clients for %s on the demo organisation (%d entities), pages + API + signed GitHub webhooks\n", clients, duration, len(entities))
	tw := tabwriter.NewWriter(e.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\trequests\treq/s\tp50 ms\tp99 ms\terrors\t")
	var all []time.Duration
	errCount := 0
	errSeen := map[string]int{}
	for k, t := range targets {
		var lat []time.Duration
		errs := 0
		for _, s := range samples {
			if s.target != k {
				continue
			}
			lat = append(lat, s.took)
			if s.err != "" {
				errs++
				errSeen[t.name+": "+s.err]++
			}
		}
		all = append(all, lat...)
		errCount += errs
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.0f\t%.0f\t%d\t\n", t.name, len(lat), float64(len(lat))/elapsed.Seconds(), Millis(Percentile(lat, 0.50)), Millis(Percentile(lat, 0.99)), errs)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	fmt.Fprintf(tw, "all\t%d\t%.1f\t%.0f\t%.0f\t%d\t\n", len(all), float64(len(all))/elapsed.Seconds(), Millis(Percentile(all, 0.50)), Millis(Percentile(all, 0.99)), errCount)
	if err := tw.Flush(); err != nil {
		return err
	}
	for msg, n := range errSeen {
		fmt.Fprintf(e.Out, "  error x%d: %s\n", n, msg)
	}
	if err := waitDrained(ctx, deps.Spool, 5*time.Minute); err != nil {
		return err
	}
	stored, err := storedShare(ctx, db, slug, acked)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Out, "webhook deliveries acknowledged: %d, stored after the spool drained: %d (%.1f%%)\n", len(acked), stored, share(stored, len(acked)))
	stop()
	if err := r.Wait(); err != nil {
		return err
	}
	if errCount > 0 {
		return fmt.Errorf("%d requests failed: %w", errCount, ErrFailed)
	}
	return nil
}

func (e Env) Outage(ctx context.Context, stopFor time.Duration, rate int) error {
	if rate <= 0 {
		return fmt.Errorf("--rate %d: want at least 1 delivery per second: %w", rate, yardstick.ErrInvalid)
	}
	own, err := e.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer own.Close()
	srv := own.Server()
	if srv == nil || !srv.Owned() {
		return errors.New("bench outage needs a local ClickHouse this process owns (no --clickhouse DSN, no other yardstick on the data dir): it stops and restarts it")
	}
	const dbName = "bench_outage"
	if old, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + srv.Addr + "/default", Database: dbName, Logger: e.Logger}); err == nil {
		err = old.Drop(ctx) // a previous run's data
		old.Close()
		if err != nil {
			return err
		}
	}
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + srv.Addr + "/default", Database: dbName, Logger: e.Logger,
		ScopesOf: e.ScopesOf, ReadTimeout: e.ReadTimeout, WriteTimeout: e.WriteTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	const slug = "acme/outage-api"
	if _, err := db.ReplaceCatalog(ctx, []yardstick.Entity{{Ref: yardstick.NewEntityRef("component", "default", "outage-api"),
		Owner: "group:default/bench", Annotations: map[string]string{github.AnnotationSlug: slug}}}); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "yardstick-bench-spool-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sp, err := spool.Open(spool.Config{Dir: filepath.Join(dir, "spool"), Registerer: e.Registry, Logger: e.Logger}, db)
	if err != nil {
		return err
	}
	h, closeFake, err := e.benchWebhook(db, sp, []string{slug})
	if err != nil {
		return err
	}
	defer closeFake()
	cfg := e.Serve
	cfg.Listen = "127.0.0.1:0"
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	r, err := serve.Start(sctx, cfg, serve.Deps{DB: db, Rules: func() *checks.RuleSet { return nil },
		Webhooks: map[string]http.Handler{"github": h}, Spool: sp, Registry: e.Registry, Logger: e.Logger})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 60 * time.Second}
	var acked []int
	var during []time.Duration
	refused, failed := 0, 0
	ignored := map[string]int{}
	send := func(phase time.Duration, stopped bool) {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for end := time.Now().Add(phase); time.Now().Before(end) && ctx.Err() == nil; <-tick.C {
			n := 1 + len(acked) + refused + failed + sumCounts(ignored)
			start := time.Now()
			code, why, err := benchPost(client, r.URL, n, benchDelivery(slug, n, e.Now()))
			switch {
			case err != nil:
				failed++
			case why != "":
				ignored[why]++
			case code/100 == 2:
				acked = append(acked, n)
				if stopped {
					during = append(during, time.Since(start))
				}
			default:
				refused++
			}
		}
	}
	send(5*time.Second, false)
	pid := srv.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("stop clickhouse %d: %w", pid, err)
	}
	send(stopFor, true)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("continue clickhouse %d: %w", pid, err)
	}
	depth := sp.Stats()
	send(5*time.Second, false)
	if err := waitDrained(ctx, sp, 10*time.Minute); err != nil {
		return err
	}
	stored, err := storedShare(ctx, db, slug, acked)
	if err != nil {
		return err
	}
	sort.Slice(during, func(i, j int) bool { return during[i] < during[j] })
	fmt.Fprintf(e.Out, "webhooks at %d/s; ClickHouse SIGSTOPped for %s\n", rate, stopFor)
	fmt.Fprintf(e.Out, "deliveries: %d acknowledged (%d during the stop: p50 %.0f ms, p99 %.0f ms, max %.0f ms), %d refused, %d failed\n",
		len(acked), len(during), Millis(Percentile(during, 0.5)), Millis(Percentile(during, 0.99)), Millis(Percentile(during, 1)), refused, failed)
	for _, why := range slices.Sorted(maps.Keys(ignored)) {
		fmt.Fprintf(e.Out, "deliveries answered 2xx but ignored (%s): %d\n", why, ignored[why])
	}
	fmt.Fprintf(e.Out, "spool at SIGCONT: %d records, %d bytes\n", depth.Records, depth.Bytes)
	fmt.Fprintf(e.Out, "acknowledged deliveries stored afterwards: %d/%d (%.1f%%)\n", stored, len(acked), share(stored, len(acked)))
	stop()
	if err := r.Wait(); err != nil {
		return err
	}
	if stored != len(acked) || failed > 0 || len(ignored) > 0 || len(acked) == 0 {
		return fmt.Errorf("%d of %d acknowledged deliveries stored, %d failed, %d ignored: %w", stored, len(acked), failed, sumCounts(ignored), ErrFailed)
	}
	return nil
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Percentile is the nearest-rank q-percentile of sorted durations (0 when
// there are none).
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Millis is d in milliseconds, to the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func share(n, of int) float64 {
	if of == 0 {
		return 100
	}
	return 100 * float64(n) / float64(of)
}
