package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/store"
)

func newCatalogCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "catalog", Short: "Work with the software catalog"}
	var backstageURL string
	imp := &cobra.Command{
		Use:   "import [PATH|GLOB|DIR ...]",
		Short: "Import Backstage catalog entities from files, folders, globs, or a Backstage backend",
		Long: `Import Backstage catalog entities. Paths may be files, folders (every *.yaml below)
or globs; Location entities are followed to their targets. With --backstage-url the
entities come from a Backstage backend's catalog API instead (token from the env var
named by catalog.backstage.token_env). Without arguments, catalog.paths of the config.

When every document is good, the import replaces the catalog (entities that are gone
are removed). When some fail, the good ones are still written, nothing is removed,
and the command exits 1 listing each error with its file and line.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if backstageURL == "" {
				backstageURL = a.cfg.Catalog.Backstage.URL
			}
			if len(args) == 0 && backstageURL == "" {
				args = a.cfg.Catalog.Paths
			}
			if len(args) == 0 && backstageURL == "" {
				return fmt.Errorf("catalog import: give paths, --backstage-url, or catalog.paths in the config")
			}
			db, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			res := a.readCatalog(cmd.Context(), args, backstageURL)
			ch, err := syncCatalog(cmd.Context(), db, res)
			if err != nil {
				return err
			}
			a.printCatalogSummary(res, ch)
			if len(res.Errors) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	imp.Flags().StringVar(&backstageURL, "backstage-url", "", "read from this Backstage backend's catalog API instead of files")
	c.AddCommand(imp)
	return c
}

func (a *app) readCatalog(ctx context.Context, paths []string, backstageURL string) catalog.Result {
	client := &http.Client{Timeout: time.Minute}
	if backstageURL != "" {
		bc := &catalog.BackstageClient{BaseURL: backstageURL, HTTP: client}
		if env := a.cfg.Catalog.Backstage.TokenEnv; env != "" {
			bc.Token = yardstick.Secret(os.Getenv(env))
		}
		return bc.Fetch(ctx)
	}
	return (&catalog.Importer{HTTP: client}).ImportPaths(ctx, paths)
}

// syncCatalog replaces the catalog when the import was clean and only upserts
// when it was not, so entities of a broken file are never lost.
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
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(a.out, "catalog: %d entities from %d files (", len(res.Entities), res.Files)
	for i, k := range names {
		if i > 0 {
			fmt.Fprint(a.out, ", ")
		}
		fmt.Fprintf(a.out, "%s %d", k, kinds[k])
	}
	fmt.Fprintf(a.out, "); %d added, %d changed, %d removed, %d unchanged; scope mappings +%d -%d\n",
		ch.Added, ch.Changed, ch.Removed, ch.Unchanged, ch.MappingsAdded, ch.MappingsRemoved)
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
