package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/store"
)

// notifier builds the notifier of the notify section on db, with the
// Notifications documents of the rule directory and the scorecards of set.
func (a *app) notifier(db *store.DB, metrics *store.Metrics, set *checks.RuleSet) (*notify.Notifier, error) {
	fsys := a.demoRules
	if a.cfg.Rules.Dir != "" {
		fsys = os.DirFS(a.cfg.Rules.Dir)
	}
	rules, err := notify.LoadRules(fsys, ".")
	if err != nil {
		return nil, a.refused("notification rules", err)
	}
	src := notify.Sources{Catalog: db, Changes: db, Campaigns: db, Digests: db, Metrics: metrics, Collectors: db, Ledger: db,
		Rules: func() (*notify.Rules, *checks.RuleSet) { return rules, set }}
	return notify.FromConfig(a.cfg.Notify, src, os.Getenv, a.logger.With("component", "notify"), a.now)
}

// newNotifyCmd is `yardstick notify preview|send`.
func newNotifyCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "notify", Short: "Notifications: preview what is due, or send it once"}
	// withNotifier is a RunE that builds the notifier on the store first.
	withNotifier := func(run func(ctx context.Context, n *notify.Notifier) error) func(*cobra.Command, []string) error {
		return a.withStore(func(cmd *cobra.Command, _ []string, db *store.DB) error {
			_, set, _, err := a.loadRules("")
			if err != nil {
				return err
			}
			sc, err := a.cfg.Serve.WithDefaults()
			if err != nil {
				return err
			}
			n, err := a.notifier(db, store.NewMetrics(db, sc.MetricsConfig()), set)
			if err != nil {
				return err
			}
			return run(cmd.Context(), n)
		})
	}
	var at string
	preview := &cobra.Command{
		Use:   "preview",
		Short: "Print what would be sent now: each notification, where it goes, and what the ledger says of it",
		Args:  cobra.NoArgs,
		RunE: withNotifier(func(ctx context.Context, n *notify.Notifier) error {
			now := a.now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-11-30T09:00:00Z", at)
				}
				now = t
			}
			plan, err := n.Preview(ctx, now)
			if err != nil {
				return err
			}
			return notify.WritePlan(a.out, plan)
		}),
	}
	preview.Flags().StringVar(&at, "at", "", "evaluate at this time instead of now (RFC 3339)")
	send := &cobra.Command{
		Use:   "send",
		Short: "Deliver what is due now, once (serve does this every notify.interval)",
		Args:  cobra.NoArgs,
		RunE: withNotifier(func(ctx context.Context, n *notify.Notifier) error {
			rep, err := n.Tick(ctx)
			fmt.Fprintf(a.out, "due %d, claimed %d, won %d, sent %d, failed %d, held for the next run %d\n", rep.Due, rep.Claimed, rep.Won, rep.Sent, rep.Failed, rep.Held)
			if err == nil && rep.Failed > 0 {
				return exitError{code: 1}
			}
			return err
		}),
	}
	c.AddCommand(preview, send)
	return c
}
