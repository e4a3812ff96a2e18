package ui

import (
	"cmp"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/yardstick-dev/yardstick"
)

// SVG badges for READMEs, in the shields.io flat style:
//
//	/badges/scorecard/{scorecard}/{kind}/{namespace}/{name}.svg  level reached
//	/badges/campaign/{campaign}/{kind}/{namespace}/{name}.svg    done or not

func (s *Server) badgeRoutes(e *echo.Echo, auth *echo.Group) {
	g := auth
	if s.cfg.Embed.PublicBadges {
		g = e.Group("")
	}
	g.GET("/badges/scorecard/:id/:kind/:namespace/:name", s.scorecardBadge)
	g.GET("/badges/campaign/:id/:kind/:namespace/:name", s.campaignBadge)
}

func badgeEntity(c echo.Context) yardstick.EntityRef {
	return yardstick.NewEntityRef(c.Param("kind"), c.Param("namespace"), strings.TrimSuffix(c.Param("name"), ".svg"))
}

// Badge colours: shields.io's palette, and metal colours for the usual level names.
var levelColours = map[string]string{"bronze": "#a5673f", "silver": "#7d8a96", "gold": "#c69214", "platinum": "#5b7c99"}

const (
	colourGood = "#4c1"
	colourBad  = "#e05d44"
	colourNone = "#9f9f9f"
	colourInfo = "#007ec6"
)

// badgeSubject looks up the badge's rule (a scorecard or campaign, by the id
// parameter) and checks that the badge's entity is in the catalog.
func badgeSubject[R any](s *Server, c echo.Context, what string, lookup func(string) (R, bool)) (R, yardstick.EntityRef, error) {
	rule, ok := lookup(c.Param("id"))
	if !ok {
		return rule, "", echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("Unknown %s %q.", what, c.Param("id")))
	}
	ref := badgeEntity(c)
	cat, err := s.catalog.get(c.Request().Context())
	if err != nil {
		return rule, "", err
	}
	_, err = cat.entity(ref)
	return rule, ref, err
}

func (s *Server) scorecardBadge(c echo.Context) error {
	sc, ref, err := badgeSubject(s, c, "scorecard", s.rules().Scorecard)
	if err != nil {
		return err
	}
	sums, err := s.cfg.Scores.ScoreSummaries(c.Request().Context(), time.Time{})
	if err != nil {
		return err
	}
	value, colour := "not scored", colourNone
	for _, sm := range sums {
		if sm.Entity != ref || sm.Scorecard != sc.ID {
			continue
		}
		switch {
		case sm.LevelRank == 0:
			value, colour = "no level", colourBad
		default:
			value, colour = sm.Level, levelColours[strings.ToLower(sm.Level)]
			if colour == "" {
				colour = colourInfo
			}
		}
	}
	return writeBadge(c, cmp.Or(sc.Title, sc.ID), value, colour)
}

func (s *Server) campaignBadge(c echo.Context) error {
	cp, ref, err := badgeSubject(s, c, "campaign", s.rules().Campaign)
	if err != nil {
		return err
	}
	st, err := s.cfg.Campaigns.CampaignStatuses(c.Request().Context(), cp.ID)
	if err != nil {
		return err
	}
	value, colour := "n/a", colourNone
	for _, x := range st {
		if x.Entity != ref {
			continue
		}
		value, colour = "not done", colourBad
		if x.Done {
			value, colour = "done", colourGood
		}
	}
	return writeBadge(c, cmp.Or(cp.Title, cp.ID), value, colour)
}

// textWidth approximates the width of Verdana 11px text, as shields.io sizes it.
func textWidth(s string) int { return utf8.RuneCountInString(s)*7 + 10 }

func writeBadge(c echo.Context, label, value, colour string) error {
	lw, vw := textWidth(label), textWidth(value)
	w := lw + vw
	esc := html.EscapeString
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s: %s">`+
		`<title>%s: %s</title>`+
		`<linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`+
		`<clipPath id="r"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`+
		`<g clip-path="url(#r)"><rect width="%d" height="20" fill="#555"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#s)"/></g>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%d" y="14">%s</text><text x="%d" y="14">%s</text></g></svg>`,
		w, esc(label), esc(value), esc(label), esc(value), w, lw, lw, vw, colour, w, lw/2, esc(label), lw+vw/2, esc(value))
	h := c.Response().Header()
	h.Set("Cache-Control", "max-age=300")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	return c.Blob(http.StatusOK, "image/svg+xml; charset=utf-8", []byte(svg))
}
