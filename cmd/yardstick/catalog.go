package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/store"
)

// catalogSourceConfig is one entry of catalog.sources in yardstick.yaml:
//
//	catalog:
//	  sources:
//	    - {name: team-a, paths: [../team-a/catalog], interval: 10m}
//	    - {name: shared, url: https://raw.example.com/org/catalog/main/all.yaml}
//	    - {name: backstage, backstage_url: https://backstage.example.com, token_env: BACKSTAGE_TOKEN, interval: 30m}
type catalogSourceConfig struct {
	Name         string        `yaml:"name"`
	Paths        []string      `yaml:"paths"`
	URL          string        `yaml:"url"`
	BackstageURL string        `yaml:"backstage_url"`
	TokenEnv     string        `yaml:"token_env"`
	Interval     time.Duration `yaml:"interval"`
}

// validate checks the catalog section's sources and guard settings.
func (c catalogConfig) validate() error {
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

func (s catalogSourceConfig) source() catalog.Source {
	src := catalog.Source{Name: s.Name, Paths: s.Paths, Interval: s.Interval}
	if s.URL != "" {
		src.Paths = []string{s.URL}
	}
	if s.BackstageURL != "" {
		src.BackstageURL = s.BackstageURL
		if s.TokenEnv != "" {
			src.Token = yardstick.Secret(os.Getenv(s.TokenEnv))
		}
	}
	return src
}

// importer is the catalog importer the config describes.
func (a *app) importer() *catalog.Importer {
	return &catalog.Importer{AllowOutsideRoot: a.cfg.Catalog.AllowOutsideRoot, AllowedHosts: a.cfg.Catalog.AllowedHosts}
}

// catalogSources are the sources an import without arguments reads: the
// configured sources, each path of catalog.paths, and catalog.backstage.url.
func (a *app) catalogSources() []catalog.Source {
	var out []catalog.Source
	for _, s := range a.cfg.Catalog.Sources {
		out = append(out, s.source())
	}
	for _, p := range a.cfg.Catalog.Paths {
		out = append(out, catalog.PathSource(p))
	}
	if u := a.cfg.Catalog.Backstage.URL; u != "" {
		out = append(out, catalog.BackstageSource(u, a.backstageToken()))
	}
	return out
}

func (a *app) backstageToken() yardstick.Secret {
	if env := a.cfg.Catalog.Backstage.TokenEnv; env != "" {
		return yardstick.Secret(os.Getenv(env))
	}
	return ""
}

func newCatalogCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "catalog", Short: "Work with the software catalog"}
	var (
		backstageURL, sourceName string
		allowShrink              bool
	)
	imp := &cobra.Command{
		Use:   "import [PATH|GLOB|DIR|URL ...]",
		Short: "Import Backstage catalog entities from files, folders, globs, URLs, or a Backstage backend",
		Long: `Import Backstage catalog entities. Every entity belongs to the source that provided
it, and an import replaces only the entities of the sources it reads.

Each argument is a source of its own, named by its absolute path (or URL). With
--source NAME the arguments together form the source NAME, and without arguments
--source NAME imports the configured source NAME (catalog.sources). --backstage-url
reads a Backstage backend's catalog API (token from catalog.backstage.token_env).
Without any of these, every configured source, each path of catalog.paths and
catalog.backstage.url are imported, each on its own.

Location entities are followed to their targets, which must stay inside the folder
being imported (catalog.allow_outside_root) and, for URLs, on allowed hosts
(catalog.allowed_hosts; loopback and private addresses only when listed).

When a source's documents are all good, its entities that are gone are removed;
an import that finds no entity, or would remove more than catalog.max_shrink of
the source (default half), is refused unless --allow-shrink is given. When some
documents fail, or a ref is already provided by another source (a conflict; the
first source keeps it), the good entities are still written, nothing is removed,
and the command exits 1 listing each problem with its file and line.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			sources, err := a.importSources(args, sourceName, backstageURL)
			if err != nil {
				return err
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			sink := &catalogSink{db: db, maxShrink: a.cfg.Catalog.MaxShrink, allowShrink: allowShrink, out: a}
			failed := 0
			for _, src := range sources {
				if err := sink.importOne(cmd.Context(), a.importer(), src); err != nil {
					failed++
				}
			}
			if failed > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	imp.Flags().StringVar(&backstageURL, "backstage-url", "", "read from this Backstage backend's catalog API instead of files")
	imp.Flags().StringVar(&sourceName, "source", "", "the source to import: a configured one, or the name the arguments are stored under")
	imp.Flags().BoolVar(&allowShrink, "allow-shrink", false, "accept an import that finds no entity or removes more than catalog.max_shrink of its source")
	c.AddCommand(imp, newCatalogSourcesCmd(a), newCatalogForgetCmd(a))
	return c
}

// importSources turns import's arguments and flags into the sources to read.
func (a *app) importSources(args []string, name, backstageURL string) ([]catalog.Source, error) {
	switch {
	case backstageURL != "":
		if len(args) > 0 {
			return nil, fmt.Errorf("catalog import: give paths or --backstage-url, not both")
		}
		src := catalog.BackstageSource(backstageURL, a.backstageToken())
		if name != "" {
			src.Name = name
		}
		return []catalog.Source{src}, nil
	case name != "" && len(args) > 0:
		return []catalog.Source{{Name: name, Paths: args}}, nil
	case name != "":
		for _, s := range a.cfg.Catalog.Sources {
			if s.Name == name {
				return []catalog.Source{s.source()}, nil
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
	out := a.catalogSources()
	if len(out) == 0 {
		return nil, fmt.Errorf("catalog import: give paths, --backstage-url, or catalog.sources / catalog.paths in the config")
	}
	return out, nil
}

// catalogSink stores scans in the store, printing what each did when out is set.
type catalogSink struct {
	db          *store.DB
	maxShrink   float64
	allowShrink bool
	out         *app // nil: quiet (serve logs through the scheduler)
}

var _ catalog.Sink = (*catalogSink)(nil)

// StoreScan replaces the scan's source when the scan is clean, and only adds
// and updates when it is not. Conflicts are returned as errors.
func (s *catalogSink) StoreScan(ctx context.Context, scan *catalog.Scan) error {
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

func (s *catalogSink) sync(ctx context.Context, scan *catalog.Scan) (store.CatalogChanges, []store.Conflict, error) {
	return s.db.SyncSource(ctx, scan.Source, scan, store.SyncOptions{
		Replace: len(scan.Errors) == 0, AllowShrink: s.allowShrink, MaxShrink: s.maxShrink, Errors: len(scan.Errors),
	})
}

// importOne reads and stores one source and prints the outcome. The error says
// only that the source had problems; they were printed.
func (s *catalogSink) importOne(ctx context.Context, im *catalog.Importer, src catalog.Source) error {
	a := s.out
	scan, err := im.Read(ctx, src)
	if err != nil {
		fmt.Fprintf(a.errOut, "catalog source %s: %v\n", src.Name, err)
		return err
	}
	defer scan.Close()
	ch, conflicts, err := s.sync(ctx, scan)
	var shrink *store.ShrinkError
	if errors.As(err, &shrink) {
		fmt.Fprintf(a.errOut, "%v\n  (give --allow-shrink to accept it)\n", err)
		return err
	}
	if err != nil {
		fmt.Fprintf(a.errOut, "catalog source %s: %v\n", src.Name, err)
		return err
	}
	fmt.Fprintf(a.out, "catalog source %s: %d entities from %d files (%s); %d added, %d changed, %d removed, %d unchanged; scope mappings +%d -%d\n",
		src.Name, scan.Len(), scan.Files, kindCounts(scan.Kinds()), ch.Added, ch.Changed, ch.Removed, ch.Unchanged, ch.MappingsAdded, ch.MappingsRemoved)
	for _, n := range scan.Notes {
		fmt.Fprintln(a.out, "  note:", n)
	}
	if len(scan.Errors) == 0 && len(conflicts) == 0 {
		return nil
	}
	fmt.Fprintf(a.errOut, "catalog source %s: %d error(s), %d conflict(s); the good entities were stored and nothing was removed:\n", src.Name, len(scan.Errors), len(conflicts))
	for _, e := range scan.Errors {
		fmt.Fprintln(a.errOut, "  "+e.Error())
	}
	for _, c := range conflicts {
		fmt.Fprintln(a.errOut, "  "+c.Error())
	}
	return errors.New("catalog source had errors")
}

func kindCounts(kinds map[string]int) string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, kinds[k])
	}
	return strings.Join(parts, ", ")
}

// unownedSource is how `catalog sources` shows, and `catalog forget` accepts,
// the entities stored without a source (before sources existed, or by the demo).
const unownedSource = "(unowned)"

func newCatalogSourcesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sources",
		Short: "List the catalog sources with their entity counts and last import",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := db.CatalogSources(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tENTITIES\tLAST IMPORT\tFOUND\tSTATUS")
			for _, s := range list {
				name, at, found, status := s.Name, "never", "-", s.Status
				if name == "" {
					name = unownedSource
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
		},
	}
}

func newCatalogForgetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "forget SOURCE",
		Short: "Retire every entity of one catalog source, with its scope mappings",
		Long: `Retire every entity of SOURCE (as 'catalog sources' names it; ` + unownedSource + ` for
entities stored without a source), with their scope mappings. The removals are
recorded in entity_history; other sources are untouched.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if name == unownedSource {
				name = ""
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			ch, err := db.ForgetSource(cmd.Context(), name)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "catalog source %s: %d entities removed; scope mappings -%d\n", args[0], ch.Removed, ch.MappingsRemoved)
			return nil
		},
	}
}

// catalogJobs are serve's jobs for the configured sources with an interval:
// each refreshes one source on its own, so a failing source never blocks the others.
func (a *app) catalogJobs(db *store.DB) []job {
	im := a.importer()
	sink := &catalogSink{db: db, maxShrink: a.cfg.Catalog.MaxShrink}
	var jobs []job
	for _, s := range a.cfg.Catalog.Sources {
		if s.Interval <= 0 {
			continue
		}
		src := s.source()
		jobs = append(jobs, job{Name: "catalog:" + src.Name, Interval: src.Interval, RunAtStart: true, Run: func(ctx context.Context) error {
			return im.Refresh(ctx, src, sink)
		}})
	}
	return jobs
}

// readCatalog reads paths (or a Backstage backend) into memory, for the demo's small catalog.
func (a *app) readCatalog(ctx context.Context, paths []string, backstageURL string) catalog.Result {
	client := &http.Client{Timeout: time.Minute}
	if backstageURL != "" {
		bc := &catalog.BackstageClient{BaseURL: backstageURL, HTTP: client, Token: a.backstageToken()}
		return bc.Fetch(ctx)
	}
	return a.importer().ImportPaths(ctx, paths)
}

// syncCatalog stores an in-memory import under the unnamed source: it replaces
// that source when the import was clean and only upserts when it was not, so
// entities of a broken file are never lost.
func syncCatalog(ctx context.Context, db *store.DB, res catalog.Result) (store.CatalogChanges, error) {
	if len(res.Errors) > 0 {
		return db.UpsertCatalog(ctx, res.Entities)
	}
	return db.ReplaceCatalog(ctx, res.Entities)
}

func (a *app) printCatalogSummary(res catalog.Result, ch store.CatalogChanges) {
	kinds := map[string]int{}
	for _, e := range res.Entities {
		kinds[e.Ref.Kind()]++
	}
	fmt.Fprintf(a.out, "catalog: %d entities from %d files (%s); %d added, %d changed, %d removed, %d unchanged; scope mappings +%d -%d\n",
		len(res.Entities), res.Files, kindCounts(kinds), ch.Added, ch.Changed, ch.Removed, ch.Unchanged, ch.MappingsAdded, ch.MappingsRemoved)
	for _, n := range res.Notes {
		fmt.Fprintln(a.out, "  note:", n)
	}
	if len(res.Errors) > 0 {
		fmt.Fprintf(a.errOut, "catalog: %d error(s); the good entities were stored and nothing was removed:\n", len(res.Errors))
		for _, e := range res.Errors {
			fmt.Fprintln(a.errOut, "  "+e.Error())
		}
	}
}
