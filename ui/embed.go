package ui

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// Embeddable views: /embed/component/{namespace}/{name} and
// /embed/group/{namespace}/{name} show an entity's scorecards, failing
// checks with remediation, campaigns and DORA without the navigation, for an
// iframe tab in Backstage. Their Content-Security-Policy allows framing by
// EmbedConfig.FrameAncestors only.

//go:embed embedviews/*.html
var embedViews embed.FS

// EmbedConfig configures the embeddable views and badges.
type EmbedConfig struct {
	// FrameAncestors may frame /embed pages (CSP frame-ancestors sources,
	// e.g. https://backstage.example.com); empty allows only this server.
	FrameAncestors []string
	// Public serves /embed pages without a token (the login cookie is
	// SameSite=Lax, so a cross-site iframe cannot carry it).
	Public bool
	// PublicBadges serves /badges without a token, for README images.
	PublicBadges bool
}

// validate checks the frame-ancestors sources: a source never holds
// whitespace, quotes (other than the 'self' keyword) or semicolons.
func (c EmbedConfig) validate() error {
	for _, a := range c.FrameAncestors {
		if a == "'self'" {
			continue
		}
		if a == "" || strings.ContainsAny(a, " \t\r\n;,'\"") {
			return fmt.Errorf("embed frame_ancestors %q: want a CSP source such as https://backstage.example.com", a)
		}
	}
	return nil
}

func (c EmbedConfig) csp() string {
	anc := "'self'"
	if len(c.FrameAncestors) > 0 {
		anc = strings.Join(c.FrameAncestors, " ")
	}
	return "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors " + anc + "; base-uri 'none'"
}

func parseEmbedViews() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range []string{"component", "group"} {
		t, err := template.New("embed").Funcs(funcs).ParseFS(assets, "templates/partials.html")
		if err != nil {
			return nil, fmt.Errorf("parse embed partials: %w", err)
		}
		if t, err = t.ParseFS(embedViews, "embedviews/layout.html", "embedviews/"+name+".html"); err != nil {
			return nil, fmt.Errorf("parse embed view %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// embedPage is what an embed template gets.
type embedPage struct {
	Title string
	Full  string // the full page in Yardstick
	Query template.URL
	Now   any
	View  any
}

func (s *Server) embedRoutes(e *echo.Echo, auth *echo.Group) {
	views := s.embedViews
	frame := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Del("X-Frame-Options")
			h.Set("Content-Security-Policy", s.cfg.Embed.csp())
			return next(c)
		}
	}
	page := func(kind string) echo.HandlerFunc {
		return func(c echo.Context) error {
			cat, f, err := s.prepare(c)
			if err != nil {
				return err
			}
			var (
				title string
				view  any
				full  string
			)
			ns, name := c.Param("namespace"), c.Param("name")
			if kind == "component" {
				c.SetParamNames("kind", "namespace", "name")
				c.SetParamValues("component", ns, name)
				title, view, err = s.component(c, cat, f)
				full = "/entities/component/" + url.PathEscape(ns) + "/" + url.PathEscape(name)
			} else {
				title, view, err = s.squad(c, cat, f)
				full = "/squads/" + url.PathEscape(ns) + "/" + url.PathEscape(name)
			}
			if err != nil {
				return err
			}
			c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
			c.Response().WriteHeader(http.StatusOK)
			return views[kind].ExecuteTemplate(c.Response(), "embed", embedPage{Title: title, Full: full, Query: template.URL(filterQuery(f)), Now: s.now(), View: view})
		}
	}
	g := auth
	if s.cfg.Embed.Public {
		g = e.Group("")
	}
	g.GET("/embed/component/:namespace/:name", page("component"), frame)
	g.GET("/embed/group/:namespace/:name", page("group"), frame)
}
