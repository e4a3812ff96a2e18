package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/yardstick-dev/yardstick"
)

// Result is what an import found. Errors do not stop the import: every good
// entity is in Entities even when some documents failed.
type Result struct {
	Entities []yardstick.Entity
	Notes    []string // things kept but worth knowing (custom kinds, skipped non-catalog files)
	Errors   []error  // each names its file:line or API page
	Files    int      // files read
}

// Err joins the errors, nil when there are none.
func (r Result) Err() error { return errors.Join(r.Errors...) }

// Importer reads catalog files. HTTP is used for Location targets that are URLs.
type Importer struct {
	HTTP *http.Client
}

// ImportPaths reads files, folders (every *.yaml and *.yml below them) and glob
// patterns, following Location entities to their targets (relative to the
// Location's own file), and returns the entities found, each once.
func (im *Importer) ImportPaths(ctx context.Context, paths []string) Result {
	st := &importState{ctx: ctx, http: im.HTTP, seenFiles: map[string]bool{}, byRef: map[yardstick.EntityRef]string{}}
	if st.http == nil {
		st.http = http.DefaultClient
	}
	for _, p := range paths {
		st.addPattern(p, "", true)
	}
	return st.finish()
}

// finish resolves the relations Backstage derives and orders the entities by ref.
func (st *importState) finish() Result {
	resolve(st.res.Entities)
	sort.Slice(st.res.Entities, func(i, j int) bool { return st.res.Entities[i].Ref < st.res.Entities[j].Ref })
	return st.res
}

type importState struct {
	ctx       context.Context
	http      *http.Client
	res       Result
	seenFiles map[string]bool
	byRef     map[yardstick.EntityRef]string // ref → where first seen
}

// addPattern expands a path, folder or glob. explicit is false for files found
// by walking a folder: those may be other YAML (OpenAPI documents, CI config)
// and are skipped with a note instead of failing.
func (st *importState) addPattern(p, from string, explicit bool) {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		st.addURL(p, from)
		return
	}
	matches := []string{p}
	if strings.ContainsAny(p, "*?[") {
		m, err := filepath.Glob(p)
		if err != nil {
			st.res.Errors = append(st.res.Errors, fmt.Errorf("%s: bad glob %q: %w", orHere(from), p, err))
			return
		}
		if len(m) == 0 {
			st.res.Errors = append(st.res.Errors, fmt.Errorf("%s: %q matches no file", orHere(from), p))
			return
		}
		matches = m
	}
	for _, m := range matches {
		info, err := os.Stat(m)
		if err != nil {
			st.res.Errors = append(st.res.Errors, fmt.Errorf("%s: %w", orHere(from), err))
			continue
		}
		if info.IsDir() {
			st.addDir(m)
			continue
		}
		st.addFile(m, explicit)
	}
}

func orHere(from string) string {
	if from == "" {
		return "arguments"
	}
	return from
}

func (st *importState) addDir(dir string) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			st.res.Errors = append(st.res.Errors, err)
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			st.addFile(p, false)
		}
		return nil
	})
	if err != nil {
		st.res.Errors = append(st.res.Errors, err)
	}
}

func (st *importState) addFile(path string, explicit bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		st.res.Errors = append(st.res.Errors, err)
		return
	}
	if st.seenFiles[abs] {
		return
	}
	st.seenFiles[abs] = true
	b, err := os.ReadFile(path)
	if err != nil {
		st.res.Errors = append(st.res.Errors, fmt.Errorf("read catalog file: %w", err))
		return
	}
	if !explicit && !looksLikeCatalog(b) {
		st.res.Notes = append(st.res.Notes, path+": not a catalog file (no apiVersion and kind at the top level); skipped")
		return
	}
	st.res.Files++
	st.addDocuments(b, path, filepath.Dir(path))
}

func (st *importState) addURL(u, from string) {
	if st.seenFiles[u] {
		return
	}
	st.seenFiles[u] = true
	req, err := http.NewRequestWithContext(st.ctx, http.MethodGet, u, nil)
	if err != nil {
		st.res.Errors = append(st.res.Errors, fmt.Errorf("%s: target %s: %w", orHere(from), u, err))
		return
	}
	resp, err := st.http.Do(req)
	if err != nil {
		st.res.Errors = append(st.res.Errors, fmt.Errorf("%s: GET %s: %w", orHere(from), u, err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		st.res.Errors = append(st.res.Errors, fmt.Errorf("%s: GET %s: status %d", orHere(from), u, resp.StatusCode))
		return
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		st.res.Errors = append(st.res.Errors, fmt.Errorf("%s: GET %s: %w", orHere(from), u, err))
		return
	}
	st.res.Files++
	st.addDocuments(b, u, "")
}

func (st *importState) addDocuments(b []byte, where, dir string) {
	docs, notes, errs := parseDocuments(bytes.NewReader(b), where)
	st.res.Notes = append(st.res.Notes, notes...)
	st.res.Errors = append(st.res.Errors, errs...)
	for _, d := range docs {
		if !st.addEntity(d.entity) {
			continue
		}
		for _, t := range d.targets {
			target := t
			if strings.HasPrefix(where, "http://") || strings.HasPrefix(where, "https://") {
				if base, err := url.Parse(where); err == nil {
					if ref, err := url.Parse(t); err == nil {
						target = base.ResolveReference(ref).String()
					}
				}
			} else if !filepath.IsAbs(t) && !strings.Contains(t, "://") {
				target = filepath.Join(dir, t)
			}
			st.addPattern(target, d.location, true)
		}
	}
}

// addEntity records e unless its ref was seen before, which is an error naming both places.
func (st *importState) addEntity(e yardstick.Entity) bool {
	if first, ok := st.byRef[e.Ref]; ok {
		st.res.Errors = append(st.res.Errors, &ParseError{Location: e.Location, Msg: fmt.Sprintf("duplicate entity %s, first defined at %s", e.Ref, first)})
		return false
	}
	st.byRef[e.Ref] = e.Location
	st.res.Entities = append(st.res.Entities, e)
	return true
}

// looksLikeCatalog is true when the first document has apiVersion and kind at the top level.
func looksLikeCatalog(b []byte) bool {
	hasAPI, hasKind := false, false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "apiVersion:") {
			hasAPI = true
		}
		if strings.HasPrefix(line, "kind:") {
			hasKind = true
		}
		if strings.HasPrefix(line, "---") && (hasAPI || hasKind) {
			break
		}
	}
	return hasAPI && hasKind
}

// BackstageClient reads entities from a Backstage backend's catalog API.
type BackstageClient struct {
	BaseURL  string // https://backstage.example.com
	Token    yardstick.Secret
	HTTP     *http.Client
	PageSize int // default 500
}

// Fetch pages through GET /api/catalog/entities/by-query with cursors and
// returns every entity. A page that fails stops the fetch (a partial catalog
// would tombstone the missing entities), with the endpoint and status.
func (c *BackstageClient) Fetch(ctx context.Context) Result {
	st := &importState{byRef: map[yardstick.EntityRef]string{}}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	limit := c.PageSize
	if limit <= 0 {
		limit = 500
	}
	cursor := ""
	for page := 1; ; page++ {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		endpoint := "/api/catalog/entities/by-query?" + q.Encode()
		body, err := c.get(ctx, client, endpoint)
		if err != nil {
			st.res.Errors = append(st.res.Errors, err)
			return st.res
		}
		var resp struct {
			Items    []json.RawMessage `json:"items"`
			PageInfo struct {
				NextCursor string `json:"nextCursor"`
			} `json:"pageInfo"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			st.res.Errors = append(st.res.Errors, fmt.Errorf("GET %s: decode: %w", endpoint, err))
			return st.res
		}
		for i, item := range resp.Items {
			docs, notes, errs := parseDocuments(bytes.NewReader(item), fmt.Sprintf("backstage API page %d item %d", page, i+1))
			st.res.Notes = append(st.res.Notes, notes...)
			st.res.Errors = append(st.res.Errors, errs...)
			for _, d := range docs {
				d.entity.Location = c.BaseURL + "/catalog/" + d.entity.Namespace + "/" + strings.ToLower(d.entity.Kind) + "/" + d.entity.Name
				st.addEntity(d.entity)
			}
		}
		if resp.PageInfo.NextCursor == "" || len(resp.Items) == 0 {
			break
		}
		cursor = resp.PageInfo.NextCursor
	}
	return st.finish()
}

func (c *BackstageClient) get(ctx context.Context, client *http.Client, endpoint string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+endpoint, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := string(b)
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("GET %s: status %d: %s", endpoint, resp.StatusCode, msg)
	}
	return b, nil
}
