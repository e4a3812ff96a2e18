package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/collectors/catalog/catalogsync"
	"github.com/yardstick-dev/yardstick/store"
)

func newCatalogCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "catalog", Short: "Work with the software catalog"}
	var (
		backstageURL, sourceName string
		allowShrink              bool
		sources                  []catalog.Source
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
		// The sources are resolved before the store is opened.
		PreRunE: func(_ *cobra.Command, args []string) (err error) {
			sources, err = a.cfg.Catalog.ImportSources(os.Getenv, args, sourceName, backstageURL)
			return err
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, db *store.DB) error {
			sink := &catalogsync.Sink{DB: db, MaxShrink: a.cfg.Catalog.MaxShrink, AllowShrink: allowShrink}
			failed := 0
			for _, src := range sources {
				if err := sink.ImportOne(cmd.Context(), a.out, a.errOut, a.cfg.Catalog.Importer(), src); err != nil {
					failed++
				}
			}
			if failed > 0 {
				return exitError{code: 1}
			}
			return nil
		}),
	}
	imp.Flags().StringVar(&backstageURL, "backstage-url", "", "read from this Backstage backend's catalog API instead of files")
	imp.Flags().StringVar(&sourceName, "source", "", "the source to import: a configured one, or the name the arguments are stored under")
	imp.Flags().BoolVar(&allowShrink, "allow-shrink", false, "accept an import that finds no entity or removes more than catalog.max_shrink of its source")
	c.AddCommand(imp, newCatalogSourcesCmd(a), newCatalogForgetCmd(a))
	return c
}

func newCatalogSourcesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sources",
		Short: "List the catalog sources with their entity counts and last import",
		Args:  cobra.NoArgs,
		RunE: a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) error {
			list, err := db.CatalogSources(cmd.Context())
			if err != nil {
				return err
			}
			return catalogsync.WriteSources(a.out, list)
		}),
	}
}

func newCatalogForgetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "forget SOURCE",
		Short: "Retire every entity of one catalog source, with its scope mappings",
		Long: `Retire every entity of SOURCE (as 'catalog sources' names it; ` + catalogsync.Unowned + ` for
entities stored without a source), with their scope mappings. The removals are
recorded in entity_history; other sources are untouched.`,
		Args: cobra.ExactArgs(1),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, db *store.DB) error {
			name := args[0]
			if name == catalogsync.Unowned {
				name = ""
			}
			ch, err := db.ForgetSource(cmd.Context(), name)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "catalog source %s: %d entities removed; scope mappings -%d\n", args[0], ch.Removed, ch.MappingsRemoved)
			return nil
		}),
	}
}
