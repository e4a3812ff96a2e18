package ui_test

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick/ui"
)

func TestEmbedViews(t *testing.T) {
	h := mustServer(t, func(c *ui.Config) {
		c.Embed.FrameAncestors = []string{"https://backstage.example.com", "'self'"}
	}).srv.Handler()
	rec := get(t, h, "/embed/component/default/checkout-api")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /embed/component = %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, want := range []string{"Checkout API", "Production readiness", "Has on-call", "Add a PagerDuty service", "Campaigns", "go122", `href="/entities/component/default/checkout-api"`} {
		if !strings.Contains(body, want) {
			t.Errorf("component embed lacks %q", want)
		}
	}
	if strings.Contains(body, "<nav>") || strings.Contains(body, "Has an owner") {
		t.Error("component embed has the navigation or a passing check; it shows failing checks only")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://backstage.example.com 'self';") {
		t.Errorf("embed CSP = %q, want the configured frame-ancestors", csp)
	}
	if xfo := rec.Header().Get("X-Frame-Options"); xfo != "" {
		t.Errorf("embed X-Frame-Options = %q, want none (it would forbid the frame)", xfo)
	}
	rec = get(t, h, "/embed/group/default/checkout")
	for _, want := range []string{"Checkout", "Failing checks", "Add a PagerDuty service", "Go 1.22 migration", "1 / 2"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("group embed lacks %q", want)
		}
	}
	if rec := get(t, h, "/embed/group/default/ghost"); rec.Code != http.StatusNotFound {
		t.Errorf("embed of an unknown group = %d, want 404", rec.Code)
	}
	// Other pages still refuse every frame.
	if csp := get(t, h, "/squads").Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("page CSP = %q, want frame-ancestors 'none'", csp)
	}
}

func TestEmbedAndBadgeAccess(t *testing.T) {
	closed := func(public bool) http.Handler {
		return mustServer(t, func(c *ui.Config) {
			c.Addr = "0.0.0.0:8080"
			c.Tokens = []ui.Token{{Name: "v", SHA256: ui.HashToken("viewer-token"), Role: ui.RoleViewer}}
			c.Embed.Public, c.Embed.PublicBadges = public, public
		}).srv.Handler()
	}
	for _, path := range []string{"/embed/component/default/checkout-api", "/badges/scorecard/production-readiness/component/default/checkout-api.svg"} {
		if rec := get(t, closed(false), path, "Accept", "application/json"); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token = %d, want 401", path, rec.Code)
		}
		if rec := get(t, closed(false), path, "Authorization", "Bearer viewer-token"); rec.Code != http.StatusOK {
			t.Errorf("GET %s with a token = %d, want 200", path, rec.Code)
		}
		if rec := get(t, closed(true), path); rec.Code != http.StatusOK {
			t.Errorf("GET %s made public = %d, want 200", path, rec.Code)
		}
	}
	// Public embeds do not open the rest.
	if rec := get(t, closed(true), "/squads", "Accept", "application/json"); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /squads with public embeds = %d, want 401", rec.Code)
	}
}

func TestEmbedFrameAncestorsAreChecked(t *testing.T) {
	for _, bad := range []string{"https://a.example.com; script-src *", "https://a b", ""} {
		_, err := ui.New(func() ui.Config {
			var cfg ui.Config
			mustServer(t, func(c *ui.Config) { cfg = *c })
			cfg.Embed.FrameAncestors = []string{bad}
			return cfg
		}())
		if err == nil || !strings.Contains(err.Error(), "frame_ancestors") {
			t.Errorf("ui.New(frame_ancestors %q) = %v, want an error naming the key", bad, err)
		}
	}
}

func TestBadges(t *testing.T) {
	h := mustServer(t, nil).srv.Handler()
	for _, tt := range []struct {
		path, label, value, colour string
	}{
		{"/badges/scorecard/production-readiness/component/default/checkout-api.svg", "Production readiness", "bronze", "#a5673f"},
		{"/badges/scorecard/production-readiness/component/default/checkout-web.svg", "Production readiness", "silver", "#7d8a96"},
		{"/badges/scorecard/production-readiness/component/default/books.svg", "Production readiness", "no level", "#e05d44"},
		{"/badges/campaign/go122/component/default/checkout-api.svg", "Go 1.22 migration", "done", "#4c1"},
		{"/badges/campaign/go122/component/default/checkout-web.svg", "Go 1.22 migration", "not done", "#e05d44"},
	} {
		rec := get(t, h, tt.path)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/svg+xml; charset=utf-8" {
			t.Errorf("GET %s = %d %s, want an SVG", tt.path, rec.Code, rec.Header().Get("Content-Type"))
			continue
		}
		var doc struct {
			Label string   `xml:"aria-label,attr"`
			Texts []string `xml:"g>text"`
			Rects []struct {
				Fill string `xml:"fill,attr"`
			} `xml:"g>rect"`
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Errorf("GET %s: not well-formed SVG: %v", tt.path, err)
			continue
		}
		if doc.Label != tt.label+": "+tt.value || len(doc.Texts) != 2 || doc.Texts[1] != tt.value || len(doc.Rects) < 2 || doc.Rects[1].Fill != tt.colour {
			t.Errorf("GET %s = %+v, want %q in %s", tt.path, doc, tt.label+": "+tt.value, tt.colour)
		}
	}
	for _, path := range []string{"/badges/scorecard/nope/component/default/checkout-api.svg", "/badges/campaign/go122/component/default/ghost.svg"} {
		if rec := get(t, h, path); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
}
