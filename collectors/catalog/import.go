package catalog

import (
	"bufio"
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
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Result is what an import found, with every entity in memory. Errors do not
// stop the import: every good entity is in Entities even when some documents
// failed. Large catalogs are better read with Importer.Read, which keeps the
// entities on disk until they are stored.
type Result struct {
	Entities []yardstick.Entity
	Notes    []string // things kept but worth knowing (custom kinds, skipped non-catalog files)
	Errors   []error  // each names its file:line or API page
	Files    int      // files read
}

// Err joins the errors, nil when there are none.
func (r Result) Err() error { return errors.Join(r.Errors...) }

// Source is one place catalog entities come from. Every entity stored records
// the name of the source that provided it; an import of a source replaces only
// that source's entities.
type Source struct {
	// Name identifies the source: a configured name, or the import root
	// (absolute path, URL, or Backstage base URL) when there is none.
	Name string
	// Paths are files, folders, globs or http(s) URLs of catalog files.
	Paths []string
	// BackstageURL reads a Backstage backend's catalog API instead of Paths.
	BackstageURL string
	Token        yardstick.Secret // Backstage service token
	// Interval is how often serve refreshes the source; 0 means never.
	Interval time.Duration
}

// PathSource is the source an import of one path or URL on its own reads: it
// is named by the absolute path (or the URL), so importing the same folder
// again replaces the same entities.
func PathSource(p string) Source {
	if isURL(p) {
		return Source{Name: p, Paths: []string{p}}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = filepath.Clean(p)
	}
	return Source{Name: abs, Paths: []string{p}}
}

// BackstageSource is the source of a Backstage backend, named by its base URL.
func BackstageSource(baseURL string, token yardstick.Secret) Source {
	return Source{Name: strings.TrimSuffix(baseURL, "/"), BackstageURL: baseURL, Token: token}
}

// Importer reads catalog sources.
type Importer struct {
	// HTTP fetches URL targets. When nil, a client is used that also refuses,
	// when it connects, addresses that are loopback, private or link-local
	// unless their host is in AllowedHosts.
	HTTP *http.Client
	// AllowOutsideRoot lets Location targets leave the folder tree being
	// imported (by "..", an absolute path, or a symlink). Off by default.
	AllowOutsideRoot bool
	// AllowedHosts, when not empty, are the only hosts URL targets may name
	// (besides the host of a URL given as a source path). When empty, any host
	// with a public address may be named. Loopback, private and link-local
	// addresses are refused unless their host is listed.
	AllowedHosts []string
}

// ImportPaths reads files, folders (every *.yaml and *.yml below them) and glob
// patterns, following Location entities to their targets, and returns the
// entities found, each once, ordered by ref. Location targets may not leave
// the folder of the path they were found through unless AllowOutsideRoot is set.
func (im *Importer) ImportPaths(ctx context.Context, paths []string) Result {
	scan, err := im.Read(ctx, Source{Name: "paths", Paths: paths})
	if err != nil {
		return Result{Errors: []error{err}}
	}
	defer scan.Close()
	return scan.result(ctx)
}

// Read reads one source into a Scan: its entities are parsed, checked and kept
// in a temporary file, so that a large catalog is stored in batches rather than
// held in memory. The error is only about the temporary file; problems with the
// catalog itself are in Scan.Errors. The caller closes the Scan.
func (im *Importer) Read(ctx context.Context, src Source) (*Scan, error) {
	scan, err := newScan(src.Name)
	if err != nil {
		return nil, err
	}
	if src.BackstageURL != "" {
		client := im.HTTP
		if client == nil {
			client = &http.Client{Timeout: time.Minute}
		}
		bc := &BackstageClient{BaseURL: src.BackstageURL, Token: src.Token, HTTP: client}
		bc.fetchInto(ctx, scan)
		if err := scan.flush(); err != nil {
			scan.Close()
			return nil, err
		}
		return scan, nil
	}
	st := &importState{ctx: ctx, scan: scan, seenFiles: map[string]bool{}, allowOutside: im.AllowOutsideRoot, guard: newHostGuard(im.AllowedHosts)}
	for _, p := range src.Paths {
		if isURL(p) {
			if u, err := url.Parse(p); err == nil {
				st.guard.allow(u.Hostname())
			}
		}
	}
	st.http = im.HTTP
	if st.http == nil {
		st.http = st.guard.client()
	}
	for _, p := range src.Paths {
		st.root = rootOf(p)
		st.addPattern(p, "", true)
	}
	if err := scan.flush(); err != nil {
		scan.Close()
		return nil, err
	}
	return scan, nil
}

func isURL(p string) bool { return strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") }

// rootOf is the folder a path argument confines its Location targets to: the
// folder itself, a file's folder, or the fixed part of a glob. Symlinks in it
// are resolved, so that comparisons with resolved targets hold.
func rootOf(p string) string {
	if isURL(p) {
		return ""
	}
	if i := strings.IndexAny(p, "*?["); i >= 0 {
		p = filepath.Dir(p[:i] + "x")
	} else if info, err := os.Stat(p); err != nil || !info.IsDir() {
		p = filepath.Dir(p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}

type importState struct {
	ctx          context.Context
	http         *http.Client
	scan         *Scan
	seenFiles    map[string]bool
	root         string // folder of the path argument being read
	allowOutside bool
	guard        *hostGuard
}

// addPattern expands a path, folder or glob. explicit is false for files found
// by walking a folder: those may be other YAML (OpenAPI documents, CI config)
// and are skipped with a note instead of failing. from is the Location that
// named p ("file:line"), empty for a path argument.
func (st *importState) addPattern(p, from string, explicit bool) {
	if isURL(p) {
		st.addURL(p, from)
		return
	}
	if strings.Contains(p, "://") {
		st.fail(from, fmt.Sprintf("target %s: only files, folders, globs and http(s) URLs can be read", p))
		return
	}
	matches := []string{p}
	if strings.ContainsAny(p, "*?[") {
		m, err := filepath.Glob(p)
		if err != nil {
			st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: bad glob %q: %w", orHere(from), p, err))
			return
		}
		if len(m) == 0 {
			st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: %q matches no file", orHere(from), p))
			return
		}
		matches = m
	}
	for _, m := range matches {
		if from != "" && !st.confined(m, from) {
			continue
		}
		info, err := os.Stat(m)
		if err != nil {
			st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: %w", orHere(from), err))
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

func (st *importState) fail(from, msg string) {
	st.scan.Errors = append(st.scan.Errors, &ParseError{Location: orHere(from), Msg: msg})
}

// confined reports whether p, with symlinks resolved, is inside the folder
// being imported, and records an error naming from when it is not.
func (st *importState) confined(p, from string) bool {
	if st.allowOutside || st.root == "" {
		return true
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		st.fail(from, fmt.Sprintf("target %s: %v", p, err))
		return false
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return true // reported as missing when it is read
		}
		st.fail(from, fmt.Sprintf("target %s: %v", p, err))
		return false
	}
	if rel, err := filepath.Rel(st.root, real); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return true
	}
	shown := p
	if real != abs {
		shown = p + " (" + real + ")"
	}
	st.fail(from, fmt.Sprintf("target %s is outside the imported folder %s; refused (set catalog.allow_outside_root to follow it)", shown, st.root))
	return false
}

func (st *importState) addDir(dir string) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			st.scan.Errors = append(st.scan.Errors, err)
			return nil
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			if d.Type()&fs.ModeSymlink != 0 && !st.confined(p, p) {
				return nil
			}
			st.addFile(p, false)
		}
		return nil
	})
	if err != nil {
		st.scan.Errors = append(st.scan.Errors, err)
	}
}

// sniffSize is how much of a file looksLikeCatalog reads.
const sniffSize = 64 << 10

func (st *importState) addFile(path string, explicit bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		st.scan.Errors = append(st.scan.Errors, err)
		return
	}
	if st.seenFiles[abs] {
		return
	}
	st.seenFiles[abs] = true
	f, err := os.Open(path)
	if err != nil {
		st.scan.Errors = append(st.scan.Errors, fmt.Errorf("read catalog file: %w", err))
		return
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		st.scan.Errors = append(st.scan.Errors, &ParseError{Location: path, Msg: "not a regular file; refused"})
		return
	}
	r := bufio.NewReaderSize(f, sniffSize)
	if !explicit {
		head, _ := r.Peek(sniffSize)
		if !looksLikeCatalog(head) {
			st.scan.Notes = append(st.scan.Notes, path+": not a catalog file (no apiVersion and kind at the top level); skipped")
			return
		}
	}
	st.scan.Files++
	st.addDocuments(r, path, filepath.Dir(path))
}

// maxURLBody bounds what one URL target may return.
const maxURLBody = 32 << 20

func (st *importState) addURL(u, from string) {
	if st.seenFiles[u] {
		return
	}
	st.seenFiles[u] = true
	parsed, err := url.Parse(u)
	if err != nil {
		st.fail(from, fmt.Sprintf("target %s: %v", u, err))
		return
	}
	if err := st.guard.check(st.ctx, parsed); err != nil {
		st.fail(from, fmt.Sprintf("target %s: %v", u, err))
		return
	}
	req, err := http.NewRequestWithContext(st.ctx, http.MethodGet, u, nil)
	if err != nil {
		st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: target %s: %w", orHere(from), u, err))
		return
	}
	resp, err := st.http.Do(req)
	if err != nil {
		st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: GET %s: %w", orHere(from), u, err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: GET %s: status %d", orHere(from), u, resp.StatusCode))
		return
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxURLBody+1))
	if err != nil {
		st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: GET %s: %w", orHere(from), u, err))
		return
	}
	if len(b) > maxURLBody {
		st.scan.Errors = append(st.scan.Errors, fmt.Errorf("%s: GET %s: body over %d MB; refused", orHere(from), u, maxURLBody>>20))
		return
	}
	st.scan.Files++
	st.addDocuments(bytes.NewReader(b), u, "")
}

func (st *importState) addDocuments(r io.Reader, where, dir string) {
	eachDocument(r, where, func(d document, note string, err error) {
		if err != nil {
			st.scan.Errors = append(st.scan.Errors, err)
			return
		}
		if note != "" {
			st.scan.Notes = append(st.scan.Notes, note)
		}
		if !st.scan.add(d.entity) {
			return
		}
		for _, t := range d.targets {
			target := t
			if isURL(where) {
				// A document read from a URL names other URLs only: a path
				// in it would be resolved against this machine's files.
				base, err := url.Parse(where)
				if err != nil {
					st.fail(d.location, fmt.Sprintf("target %s: %v", t, err))
					continue
				}
				ref, err := url.Parse(t)
				if err != nil {
					st.fail(d.location, fmt.Sprintf("target %s: %v", t, err))
					continue
				}
				target = base.ResolveReference(ref).String()
				if !isURL(target) {
					st.fail(d.location, fmt.Sprintf("target %s: a Location read from a URL can only name http(s) URLs; refused", t))
					continue
				}
			} else if !filepath.IsAbs(t) && !strings.Contains(t, "://") {
				target = filepath.Join(dir, t)
			}
			st.addPattern(target, d.location, true)
		}
	})
}

// looksLikeCatalog is true when the first document has apiVersion and kind at the top level.
func looksLikeCatalog(b []byte) bool {
	hasAPI, hasKind := false, false
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if bytes.HasPrefix(line, []byte("apiVersion:")) {
			hasAPI = true
		}
		if bytes.HasPrefix(line, []byte("kind:")) {
			hasKind = true
		}
		if bytes.HasPrefix(line, []byte("---")) && (hasAPI || hasKind) {
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
	scan, err := newScan(c.BaseURL)
	if err != nil {
		return Result{Errors: []error{err}}
	}
	defer scan.Close()
	c.fetchInto(ctx, scan)
	if err := scan.flush(); err != nil {
		return Result{Errors: []error{err}}
	}
	return scan.result(ctx)
}

func (c *BackstageClient) fetchInto(ctx context.Context, scan *Scan) {
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
			scan.Errors = append(scan.Errors, err)
			return
		}
		var resp struct {
			Items    []json.RawMessage `json:"items"`
			PageInfo struct {
				NextCursor string `json:"nextCursor"`
			} `json:"pageInfo"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			scan.Errors = append(scan.Errors, fmt.Errorf("GET %s: decode: %w", endpoint, err))
			return
		}
		for i, item := range resp.Items {
			eachDocument(bytes.NewReader(item), fmt.Sprintf("backstage API page %d item %d", page, i+1), func(d document, note string, err error) {
				if err != nil {
					scan.Errors = append(scan.Errors, err)
					return
				}
				if note != "" {
					scan.Notes = append(scan.Notes, note)
				}
				d.entity.Location = strings.TrimSuffix(c.BaseURL, "/") + "/catalog/" + d.entity.Namespace + "/" + strings.ToLower(d.entity.Kind) + "/" + d.entity.Name
				scan.add(d.entity)
			})
		}
		if resp.PageInfo.NextCursor == "" || len(resp.Items) == 0 {
			break
		}
		cursor = resp.PageInfo.NextCursor
	}
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

// sortEntities orders entities by ref.
func sortEntities(es []yardstick.Entity) {
	sort.Slice(es, func(i, j int) bool { return es[i].Ref < es[j].Ref })
}
