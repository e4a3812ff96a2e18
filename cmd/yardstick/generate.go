package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/fixtures"
)

func newGenerateCmd(a *app) *cobra.Command {
	var (
		cfg    fixtures.GenConfig
		out    string
		events int
	)
	c := &cobra.Command{
		Use:   "generate",
		Short: "Write a deterministic organisation (catalog + events) of any size, for tests and benchmarks",
		Long: `Write OUT/catalog.yaml (Backstage entities: tribes, squads with members, systems,
domains, components with GitHub, Jira and PagerDuty annotations) and OUT/events.jsonl
(events for 'yardstick ingest'). The same flags always write the same files.
About 11 events per component and day: --components 1000 --days 140 gives ~1,500,000;
--events N picks the days for about N events. Events stream to the file as they are
generated, so any size runs in bounded memory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if events > 0 {
				cfg.Days = fixtures.DaysForEvents(cfg.Components, events)
			}
			org := fixtures.Generate(cfg)
			cat, err := os.Create(filepath.Join(out, "catalog.yaml"))
			if err != nil {
				return err
			}
			if err := org.WriteCatalog(cat); err != nil {
				cat.Close()
				return err
			}
			if err := cat.Close(); err != nil {
				return err
			}
			ev, err := os.Create(filepath.Join(out, "events.jsonl"))
			if err != nil {
				return err
			}
			n, err := org.WriteEvents(ev)
			if err != nil {
				ev.Close()
				return err
			}
			if err := ev.Close(); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "generate: %d components, %d squads, %d tribes, %d events -> %s\n",
				len(org.Components), len(org.Squads), len(org.Tribes), n, out)
			return nil
		},
	}
	c.Flags().IntVar(&cfg.Components, "components", 120, "number of components")
	c.Flags().IntVar(&cfg.Days, "days", 90, "days of history")
	c.Flags().Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	c.Flags().StringVar(&out, "out", "generated", "output folder")
	c.Flags().IntVar(&events, "events", 0, "about this many events (sets --days from --components)")
	c.Flags().IntVar(&cfg.GitLabEvery, "gitlab-every", 0, "put every Nth component on GitLab instead of GitHub (the demo uses 6)")
	return c
}
