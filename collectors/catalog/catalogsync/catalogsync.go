// Package catalogsync imports catalog sources into the store: the `catalog:`
// section of yardstick.yaml (named sources, guards), the sink that syncs one
// source's scan with its shrink guard and conflicts, the report of each
// import, and serve's refresh jobs. cmd/yardstick holds only the commands.
package catalogsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/scheduler"
	"github.com/yardstick-dev/yardstick/store"
)

// Config is the `catalog:` section of yardstick.yaml.
type Config struct {
	// Paths are files, folders or globs of catalog-info.yaml files.
	Paths     []string        `yaml:"paths"`
	Backstage BackstageConfig `yaml:"backstage"`
	// Sources are named sources, each owning its entities.
	Sources          []SourceConfig `yaml:"sources"`
	AllowOutsideRoot bool           `yaml:"allow_outside_root"` // Location targets may leave the imported folder
	AllowedHosts     []string       `yaml:"allowed_hosts"`      // hosts URL targets may name
	MaxShrink        float64        `yaml:"max_shrink"`         // share of a source an import may remove; 0: 0.5
}

// BackstageConfig is `catalog.backstage`.
type BackstageConfig struct {
	URL      string `yaml:"url"`
	TokenEnv string `yaml:"token_env"` // env var with a Backstage service token
}

// SourceConfig is one entry of catalog.sources:
//
//	catalog:
//	  sources:
//	    - {name: team-a, paths: [../team-a/catalog], interval: 10m}
//	    - {name: shared, url: https://raw.example.com/org/catalog/main/all.yaml}
//	    - {name: backstage, backstage_url: https://backstage.example.com, token_env: BACKSTAGE_TOKEN, interval: 30m}
type SourceConfig struct {
	Name         string        `yaml:"name"`
	Paths        []string      `yaml:"paths"`
	URL          string        `yaml:"url"`
	BackstageURL string        `yaml:"backstage_url"`
	TokenEnv     string        `yaml:"token_env"`
	Interval     time.Duration `yaml:"interval"`
}

// Validate checks the section's sources and guard settings; errors name the
// key and wrap yardstick.ErrInvalid.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, s := range c.Sources {
		where := fmt.Sprintf("catalog.sources[%d]", i)
		if s.Name == "" {
			return fmt.Errorf("%s: name is required: %w", where, yardstick.ErrInvalid)
		}
		if seen[s.Name] {
			return fmt.Errorf("%s: name %q used twice: %w", where, s.Name, yardstick.ErrInvalid)
		}
		seen[s.Name] = true
		n := 0
		for _, set := range []bool{len(s.Paths) > 0, s.URL != "", s.BackstageURL != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s (%s): give exactly one of paths, url or backstage_url: %w", where, s.Name, yardstick.ErrInvalid)
		}
		if s.Interval != 0 && s.Interval < time.Minute {
			return fmt.Errorf("%s (%s): interval %s: at least 1m: %w", where, s.Name, s.Interval, yardstick.ErrInvalid)
		}
	}
	if c.MaxShrink < 0 || c.MaxShrink > 1 {
		return fmt.Errorf("catalog.max_shrink %v: a share between 0 and 1: %w", c.MaxShrink, yardstick.ErrInvalid)
	}
	return nil
}

// Source is the catalog source s describes, its token read through getenv.
func (s SourceConfig) Source(getenv func(string) string) catalog.Source {
	src := catalog.Source{Name: s.Name, Paths: s.Paths, Interval: s.Interval}
	if s.URL != "" {
		src.Paths = []string{s.URL}
	}
	if s.BackstageURL != "" {
		src.BackstageURL = s.BackstageURL
		if s.TokenEnv != "" {
			src.Token = yardstick.Secret(getenv(s.TokenEnv))
		}
	}
	return src
}

// Importer is the catalog importer the section describes.
func (c Config) Importer() *catalog.Importer {
	return &catalog.Importer{AllowOutsideRoot: c.AllowOutsideRoot, AllowedHosts: c.AllowedHosts}
}

// BackstageToken is the token catalog.backstage.token_env names.
func (c Config) BackstageToken(getenv func(string) string) yardstick.Secret {
	if env := c.Backstage.TokenEnv; env != "" {
		return yardstick.Secret(getenv(env))
	}
	return ""
}

// ImportSources turns `catalog import`'s arguments and flags into the sources
// to read: a Backstage backend, the arguments as one named source, a
// configured source by name, each argument as a source of its own, or
// (without any) every configured source, each path of catalog.paths and
// catalog.backstage.url.
func (c Config) ImportSources(getenv func(string) string, args []string, name, backstageURL string) ([]catalog.Source, error) {
	switch {
	case backstageURL != "":
		if len(args) > 0 {
			return nil, fmt.Errorf("catalog import: give paths or --backstage-url, not both")
		}
		src := catalog.BackstageSource(backstageURL, c.BackstageToken(getenv))
		if name != "" {
			src.Name = name
		}
		return []catalog.Source{src}, nil
	case name != "" && len(args) > 0:
		return []catalog.Source{{Name: name, Paths: args}}, nil
	case name != "":
		for _, s := range c.Sources {
			if s.Name == name {
				return []catalog.Source{s.Source(getenv)}, nil
			}
		}
		return nil, fmt.Errorf("catalog import --source %s: no such source in catalog.sources, and no paths given", name)
	case len(args) > 0:
		out := make([]catalog.Source, len(args))
		for i, p := range args {
			out[i] = catalog.PathSource(p)
		}
		return out, nil
	}
	var out []catalog.Source
	for _, s := range c.Sources {
		out = append(out, s.Source(getenv))
	}
	for _, p := range c.Paths {
		out = append(out, catalog.PathSource(p))
	}
	if u := c.Backstage.URL; u != "" {
		out = append(out, catalog.BackstageSource(u, c.BackstageToken(getenv)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("catalog import: give paths, --backstage-url, or catalog.sources / catalog.paths in the config")
	}
	return out, nil
}

// Jobs are serve's jobs for the configured sources with an interval: each
// refreshes one source on its own, so a failing source never blocks the others.
func (c Config) Jobs(db *store.DB, getenv func(string) string) []scheduler.Job {
	im := c.Importer()
	sink := &Sink{DB: db, MaxShrink: c.MaxShrink}
	var jobs []scheduler.Job
	for _, s := range c.Sources {
		if s.Interval <= 0 {
			continue
		}
		src := s.Source(getenv)
		jobs = append(jobs, scheduler.Job{Name: "catalog:" + src.Name, Interval: src.Interval, RunAtStart: true, Run: func(ctx context.Context) error {
			return im.Refresh(ctx, src, sink)
		}})
	}
	return jobs
}

// Sink stores scans in the store, one source at a time.
type Sink struct {
	DB          *store.DB
	MaxShrink   float64 // catalog.max_shrink
	AllowShrink bool    // --allow-shrink
}

var _ catalog.Sink = (*Sink)(nil)

// StoreScan replaces the scan's source when the scan is clean, and only adds
// and updates when it is not. Conflicts are returned as errors.
func (s *Sink) StoreScan(ctx context.Context, scan *catalog.Scan) error {
	_, conflicts, err := s.sync(ctx, scan)
	if err != nil {
		return err
	}
	errs := make([]error, len(conflicts))
	for i, c := range conflicts {
		errs[i] = c
	}
	return errors.Join(errs...)
}

func (s *Sink) sync(ctx context.Context, scan *catalog.Scan) (store.CatalogChanges, []store.Conflict, error) {
	return s.DB.SyncSource(ctx, scan.Source, scan, store.SyncOptions{
		Replace: len(scan.Errors) == 0, AllowShrink: s.AllowShrink, MaxShrink: s.MaxShrink, Errors: len(scan.Errors),
	})
}

// ErrImport says a source had problems; ImportOne printed them.
var ErrImport = errors.New("catalog source had errors")

// ImportOne reads and stores one source, printing the outcome to out and the
// problems, each with its file and line, to errOut. It returns an error
// wrapping ErrImport (or the read or store error) when there were problems.
func (s *Sink) ImportOne(ctx context.Context, out, errOut io.Writer, im *catalog.Importer, src catalog.Source) error {
	scan, err := im.Read(ctx, src)
	if err != nil {
		fmt.Fprintf(errOut, "catalog source %s: %v\n", src.Name, err)
		return err
	}
	defer scan.Close()
	ch, conflicts, err := s.sync(ctx, scan)
	var shrink *store.ShrinkError
	if errors.As(err, &shrink) {
		fmt.Fprintf(errOut, "%v\n  (give --allow-shrink to accept it)\n", err)
		return err
	}
	if err != nil {
		fmt.Fprintf(errOut, "catalog source %s: %v\n", src.Name, err)
		return err
	}
	writeChanges(out, "catalog source "+src.Name, scan.Len(), scan.Files, scan.Kinds(), ch, scan.Notes)
	if len(scan.Errors) == 0 && len(conflicts) == 0 {
		return nil
	}
	fmt.Fprintf(errOut, "catalog source %s: %d error(s), %d conflict(s); the good entities were stored and nothing was removed:\n", src.Name, len(scan.Errors), len(conflicts))
	for _, e := range scan.Errors {
		fmt.Fprintln(errOut, "  "+e.Error())
	}
	for _, c := range conflicts {
		fmt.Fprintln(errOut, "  "+c.Error())
	}
	return fmt.Errorf("catalog source %s: %w", src.Name, ErrImport)
}

// Sync stores an in-memory import (the demo's catalog) under the unnamed
// source: it replaces that source when the import was clean and only upserts
// when it was not, so entities of a broken file are never lost. It prints
// the outcome as ImportOne does.
func Sync(ctx context.Context, out, errOut io.Writer, db *store.DB, res catalog.Result) error {
	sync := db.ReplaceCatalog
	if len(res.Errors) > 0 {
		sync = db.UpsertCatalog
	}
	ch, err := sync(ctx, res.Entities)
	if err != nil {
		return err
	}
	kinds := map[string]int{}
	for _, e := range res.Entities {
		kinds[e.Ref.Kind()]++
	}
	writeChanges(out, "catalog", len(res.Entities), res.Files, kinds, ch, res.Notes)
	if len(res.Errors) > 0 {
		fmt.Fprintf(errOut, "catalog: %d error(s); the good entities were stored and nothing was removed:\n", len(res.Errors))
		for _, e := range res.Errors {
			fmt.Fprintln(errOut, "  "+e.Error())
		}
	}
	return nil
}

func writeChanges(w io.Writer, what string, entities, files int, kinds map[string]int, ch store.CatalogChanges, notes []string) {
	parts := make([]string, 0, len(kinds))
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	fmt.Fprintf(w, "%s: %d entities from %d files (%s); %d added, %d changed, %d removed, %d unchanged; scope mappings +%d -%d\n",
		what, entities, files, strings.Join(parts, ", "), ch.Added, ch.Changed, ch.Removed, ch.Unchanged, ch.MappingsAdded, ch.MappingsRemoved)
	for _, n := range notes {
		fmt.Fprintln(w, "  note:", n)
	}
}

// Unowned is how `catalog sources` shows, and `catalog forget` accepts, the
// entities stored without a source (before sources existed, or by the demo).
const Unowned = "(unowned)"

// WriteSources prints the catalog sources with their entity counts and last import.
func WriteSources(w io.Writer, list []store.CatalogSource) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tENTITIES\tLAST IMPORT\tFOUND\tSTATUS")
	for _, s := range list {
		name, at, found, status := s.Name, "never", "-", s.Status
		if name == "" {
			name = Unowned
		}
		if !s.LastImport.IsZero() {
			at, found = s.LastImport.Format(time.RFC3339), fmt.Sprint(s.Found)
		}
		if status == "" {
			status = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", name, s.Entities, at, found, status)
	}
	return tw.Flush()
}
