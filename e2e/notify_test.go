package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/notify"
)

func TestNotifyPreviewAndSend(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !notify.Verify(yardstick.Secret("hook-secret"), r.Header.Get(notify.HeaderTimestamp), b, r.Header.Get(notify.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	t.Setenv("OPS_HOOK_SECRET", "hook-secret")
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	mustWriteFile(t, filepath.Join(rules, "notifications.yaml"), `kind: Notifications
rules:
  - name: squads
    triggers: [digest]
    channels: [email, webhook:ops]
    digest: {day: monday, time: "00:00"}   # always passed this week, whatever day the test runs
`)
	mustWriteFile(t, filepath.Join(rules, "scorecard.yaml"), `kind: Scorecard
id: basics
title: Basics
levels: [{name: bronze}]
checks:
  - {id: owner, title: Has an owner, level: bronze, expr: 'entity.owner != ""'}
`)
	catalog := filepath.Join(dir, "catalog.yaml")
	mustWriteFile(t, catalog, notifyCatalog)
	cli := mustCLI(t, "rules: {dir: "+rules+"}\nnotify:\n  settle: 1s\n  webhooks: [{name: ops, url: "+hook.URL+", secret_env: OPS_HOOK_SECRET}]\n")
	if code, _, errOut := cli("catalog", "import", catalog); code != 0 {
		t.Fatalf("catalog import = %d: %s", code, errOut)
	}
	code, out, errOut := cli("notify", "preview", "--at", "2026-11-30T10:00:00Z")
	if code != 0 {
		t.Fatalf("notify preview = %d: %s", code, errOut)
	}
	for _, want := range []string{"STATE", "due", "webhook:ops", "Weekly digest of team-a (squad), week 2026-W49", "Scorecards"} {
		if !strings.Contains(out, want) {
			t.Errorf("notify preview lacks %q:\n%s", want, out)
		}
	}
	// team-a has no yardstick.dev/email and there is no default route: no e-mail delivery.
	if strings.Contains(out, "email:") {
		t.Errorf("notify preview routes e-mail without an address:\n%s", out)
	}
	// Two processes' worth of notifiers race: exactly one sends.
	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], outs[i], _ = cli("notify", "send")
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 || strings.Contains(outs[0], "sent 1") == strings.Contains(outs[1], "sent 1") {
		t.Fatalf("two racing notify send = %v %q, want exactly one to send", codes, outs)
	}
	if code, out, _ = cli("notify", "send"); code != 0 || !strings.Contains(out, "claimed 0") {
		t.Errorf("second notify send = %d %q, want nothing claimed", code, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"trigger":"digest"`) {
		t.Errorf("webhook got %v, want the digest once", bodies)
	}
}

// notifyCatalog is a squad, team-a, with one component.
const notifyCatalog = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: api, annotations: {github.com/project-slug: acme/api}}
spec: {type: service, owner: team-a}
`
