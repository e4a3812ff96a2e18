package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/yardstick-dev/yardstick"
)

// chromiumPath finds Debian's chromium (or another Chrome) for the browser test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium for the browser test: apt-get install -y chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestBrowser opens every page of the demo organisation in headless Chromium,
// checks what each must show, fails on any console error, failed resource or
// exception, and saves a full-page screenshot of each page as a test artifact
// (go test -artifacts keeps them; see t.ArtifactDir).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: not in -short mode")
	}
	chrome := chromiumPath(t)
	d := mustDemo(t, 120, 90)
	ts := httptest.NewServer(d.srv.Handler())
	t.Cleanup(ts.Close)

	squad := yardstick.NewEntityRef("group", "", d.org.Squads[0].Name)
	if len(d.defs.Scorecards) == 0 || len(d.defs.Campaigns) == 0 {
		t.Fatalf("demo rules have %d scorecards and %d campaigns, want both", len(d.defs.Scorecards), len(d.defs.Campaigns))
	}
	sc, camp := d.defs.Scorecards[0], d.defs.Campaigns[0]
	// A component the first scorecard applies to.
	sums, err := d.db.ScoreSummaries(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var comp yardstick.EntityRef
	for _, s := range sums {
		if s.Scorecard == sc.ID && s.Entity.Kind() == "component" {
			comp = s.Entity
			break
		}
	}
	if comp == "" {
		t.Fatalf("scoring the demo gave no summary of a component for %s", sc.ID)
	}
	repo := ""
	for _, c := range d.org.Components {
		if c.Name == comp.Name() {
			repo = strings.ToLower(c.Repo)
		}
	}
	pages := []struct {
		name, path string
		want       []string
	}{
		{"overview", "/", []string{"DORA four keys", "Deployment frequency", "Lead time for changes", "Change failure rate", "Time to restore", "Level distribution per scorecard", "Campaigns at a glance", "Top movers", camp.Title}},
		{"overview-tribe", "/?range=4w&group=group:default/" + d.org.Tribes[0].Name, []string{"DORA four keys", d.org.Tribes[0].Title}},
		{"squads", "/squads", []string{"Squad health", d.org.Squads[0].Title, d.org.Squads[len(d.org.Squads)-1].Title, "Deploys / week"}},
		{"squad", "/squads/default/" + squad.Name(), []string{d.org.Squads[0].Title, "Components", "Failing checks", "Campaigns", "Incident load", "CI by workflow"}},
		{"component", "/entities/component/default/" + comp.Name(), []string{comp.Name(), sc.Title, "Value seen", "Recent events", "github:" + repo}},
		{"scorecards", "/scorecards", []string{sc.Title, "Level distribution"}},
		{"scorecard", "/scorecards/" + sc.ID, []string{sc.Title, "Pass rate", "What changed since last week", sc.Checks[0].Expr}},
		{"campaigns", "/campaigns", []string{camp.Title, "Projected"}},
		{"campaign", "/campaigns/" + camp.ID, []string{camp.Title, "Burndown", "Progress per squad", "Download CSV"}},
		{"search", "/search?q=" + comp.Name(), []string{comp.Name(), "Search"}},
	}

	// A fresh profile; Chromium may still be writing to it as the test ends, so
	// its removal is best effort.
	profile, err := os.MkdirTemp("", "yardstick-chromium-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := append([]chromedp.ExecAllocatorOption{},
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1366, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	var (
		mu       sync.Mutex
		problems []string
	)
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, "console error: "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError || ev.Entry.Level == log.LevelWarning {
				problems = append(problems, fmt.Sprintf("browser log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		}
	})
	if err := chromedp.Run(ctx, log.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	artifacts := t.ArtifactDir()
	for _, p := range pages {
		var (
			text, title string
			shot        []byte
			links       []*cdp.Node
		)
		err := chromedp.Run(ctx,
			chromedp.Navigate(ts.URL+p.path),
			chromedp.WaitReady("main", chromedp.ByQuery),
			chromedp.Title(&title),
			chromedp.TextContent("body", &text, chromedp.ByQuery),
			chromedp.Nodes("main svg, main table", &links, chromedp.ByQueryAll, chromedp.AtLeast(0)),
			chromedp.FullScreenshot(&shot, 100), // 100: PNG
		)
		if err != nil {
			t.Errorf("page %s (%s): %v", p.name, p.path, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(artifacts, p.name+".png"), shot, 0o644); err != nil {
			t.Errorf("save screenshot of %s: %v", p.name, err)
		}
		if !strings.HasSuffix(title, "· Yardstick") || strings.HasPrefix(title, "4") || strings.HasPrefix(title, "5") {
			t.Errorf("page %s: title %q, want a page title (not an error)", p.name, title)
		}
		for _, w := range p.want {
			if !strings.Contains(text, w) {
				t.Errorf("page %s (%s): text lacks %q", p.name, p.path, w)
			}
		}
		if len(links) == 0 {
			t.Errorf("page %s: no chart or table rendered", p.name)
		}
	}
	// Filters: choosing a range and a group in the form reloads the page with them.
	var url string
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.URL+"/squads"),
		chromedp.WaitReady("form.filters", chromedp.ByQuery),
		chromedp.SetValue(`select[name="range"]`, "4w", chromedp.ByQuery),
		chromedp.SetValue(`select[name="group"]`, "group:default/"+d.org.Tribes[0].Name, chromedp.ByQuery),
		chromedp.Click(`form.filters button`, chromedp.ByQuery),
	)
	// The click starts a navigation; the old page's table is still there for a
	// moment, so wait for the new URL rather than for an element.
	for deadline := time.Now().Add(10 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = chromedp.Run(ctx, chromedp.Location(&url)); err == nil && strings.Contains(url, "range=") {
			err = chromedp.Run(ctx, chromedp.WaitReady("main table", chromedp.ByQuery))
			break
		}
	}
	if err != nil {
		t.Errorf("apply filters: %v", err)
	} else if !strings.Contains(url, "range=4w") || !strings.Contains(url, "group=group%3Adefault%2F"+d.org.Tribes[0].Name) {
		t.Errorf("after applying filters the URL is %s, want range and group in it", url)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	t.Logf("screenshots in %s", artifacts)

	// The CSV export is a download, checked over HTTP.
	resp, err := http.Get(ts.URL + "/campaigns/" + camp.ID + "/remaining.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("GET remaining.csv = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
