package ui

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/yardstick-dev/yardstick"
)

// Long lists (squads, remaining entities of a campaign) come a page at a
// time, in the pages and the API alike: ?limit=N (default 50, at most 500)
// and ?cursor=C, the opaque next_cursor of the previous page.

const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// Paging says where a page sits in its list.
type Paging struct {
	Limit      int    `json:"limit"`
	Total      int    `json:"total"`                 // items in the whole list
	First      int    `json:"first"`                 // 1-based position of the page's first item (0 when empty)
	Last       int    `json:"last"`                  // position of its last item
	NextCursor string `json:"next_cursor,omitempty"` // empty on the last page
	NextHref   string `json:"-"`
	FirstHref  string `json:"-"`
}

// pageRequest is a request's limit and decoded cursor (the key of the last
// item already shown; "" for the first page).
type pageRequest struct {
	limit int
	after string
}

func pageOf(c echo.Context) (pageRequest, error) {
	p := pageRequest{limit: defaultPageSize}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, echo.NewHTTPError(400, fmt.Sprintf("limit %q: want a number from 1 to %d.", v, maxPageSize))
		}
		p.limit = n
	}
	if v := c.QueryParam("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			return p, echo.NewHTTPError(400, fmt.Sprintf("cursor %q is not one this server gave.", v))
		}
		p.after = string(b)
	}
	return p, nil
}

// paginate returns the page of items after the cursor's key. A cursor whose
// key is no longer in the list (the catalog changed) is a 400.
func paginate[T any](c echo.Context, items []T, key func(T) string, p pageRequest) ([]T, Paging, error) {
	start := 0
	if p.after != "" {
		start = -1
		for i, it := range items {
			if key(it) == p.after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, Paging{}, fmt.Errorf("cursor: %q is no longer in the list, start again from the first page: %w", p.after, yardstick.ErrInvalid)
		}
	}
	end := min(start+p.limit, len(items))
	pg := Paging{Limit: p.limit, Total: len(items)}
	if start < end {
		pg.First, pg.Last = start+1, end
	}
	// Links are relative ("?…"): the page cache shares a view between the
	// page and its API twin, whose paths differ.
	q := c.Request().URL.Query()
	q.Del("cursor")
	pg.FirstHref = "?" + q.Encode()
	if end < len(items) {
		pg.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1])))
		q.Set("cursor", pg.NextCursor)
		pg.NextHref = "?" + q.Encode()
	}
	return items[start:end], pg, nil
}
