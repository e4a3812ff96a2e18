package main

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/scheduler"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/ui"
)

var (
	_ notify.ChangeReader   = (*store.DB)(nil)
	_ notify.CampaignReader = (*store.DB)(nil)
	_ notify.DigestReader   = (*store.DB)(nil)
	_ notify.MetricReader   = (*store.Metrics)(nil)
	_ notify.CollectorLog   = (*store.DB)(nil)
	_ notify.CatalogReader  = (*store.DB)(nil)
	_ notify.Ledger         = (*store.DB)(nil)
	_ ui.NotificationSource = (*store.DB)(nil)
	_ ui.ScoreHistory       = (*store.DB)(nil)
)

// notifyConfig is the `notify:` section of yardstick.yaml (README,
// "Notifications"). Rules live next to the scorecards (kind: Notifications).
type notifyConfig struct {
	Interval     time.Duration   `yaml:"interval"`
	BaseURL      string          `yaml:"base_url"`
	Lookback     time.Duration   `yaml:"lookback"`
	Lease        time.Duration   `yaml:"lease"`
	Settle       time.Duration   `yaml:"settle"`
	SendTimeout  time.Duration   `yaml:"send_timeout"`
	MaxAttempts  int             `yaml:"max_attempts"`
	RetryBase    time.Duration   `yaml:"retry_base"`
	RetryMax     time.Duration   `yaml:"retry_max"`
	MaxPerTarget int             `yaml:"max_per_target"`
	DefaultRoute notifyRoute     `yaml:"default_route"`
	Slack        notifySlack     `yaml:"slack"`
	Email        *notifyEmail    `yaml:"email"`
	Webhooks     []notifyWebhook `yaml:"webhooks"`
}

type notifyRoute struct {
	Slack string `yaml:"slack"`
	Email string `yaml:"email"`
}

type notifySlack struct {
	APIURL          string            `yaml:"api_url"`
	TokenEnv        string            `yaml:"token_env"`
	WebhookURLEnv   string            `yaml:"webhook_url_env"`
	ChannelWebhooks map[string]string `yaml:"channel_webhooks"` // channel → env var holding its incoming webhook URL
}

type notifyEmail struct {
	Host        string        `yaml:"host"`
	Port        int           `yaml:"port"`
	TLS         string        `yaml:"tls"`
	Auth        string        `yaml:"auth"`
	Username    string        `yaml:"username"`
	PasswordEnv string        `yaml:"password_env"`
	From        string        `yaml:"from"`
	Timeout     time.Duration `yaml:"timeout"`
}

type notifyWebhook struct {
	Name      string        `yaml:"name"`
	URL       string        `yaml:"url"`
	URLEnv    string        `yaml:"url_env"`
	SecretEnv string        `yaml:"secret_env"`
	Retries   int           `yaml:"retries"`
	RetryWait time.Duration `yaml:"retry_wait"`
}

// notifyRules reads the Notifications documents of the rule directory.
func (a *app) notifyRules() (*notify.Rules, error) {
	var fsys fs.FS = fixtures.Rules()
	if a.cfg.Rules.Dir != "" {
		fsys = os.DirFS(a.cfg.Rules.Dir)
	}
	rules, err := notify.LoadRules(fsys, ".")
	if err != nil {
		fmt.Fprintln(a.errOut, "notification rules are refused:")
		for _, line := range checks.ErrorLines(err) {
			fmt.Fprintf(a.errOut, "  %s\n", line)
		}
		return nil, exitError{code: 1}
	}
	return rules, nil
}

// newNotifier builds the notifier on the store with the configured channels.
func (a *app) newNotifier(db *store.DB, metrics *store.Metrics, set *checks.RuleSet) (*notify.Notifier, error) {
	c := a.cfg.Notify
	rules, err := a.notifyRules()
	if err != nil {
		return nil, err
	}
	cfg := notify.Config{BaseURL: c.BaseURL, Lookback: c.Lookback, Lease: c.Lease, Settle: c.Settle, SendTimeout: c.SendTimeout,
		MaxAttempts: c.MaxAttempts, RetryBase: c.RetryBase, RetryMax: c.RetryMax, MaxPerTarget: c.MaxPerTarget,
		Default: notify.Route{SlackChannel: c.DefaultRoute.Slack, Email: c.DefaultRoute.Email}}
	if host, err := os.Hostname(); err == nil {
		cfg.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		return nil, fmt.Errorf("config notify: %w", err)
	}
	for _, r := range rules.Rules {
		if r.QuietHours.Length() > cfg.WithDefaults().Lookback {
			return nil, fmt.Errorf("config notify: lookback %v is shorter than the quiet hours of rule %q (%s): changes during them would be missed", cfg.WithDefaults().Lookback, r.Name, r.Pos)
		}
	}
	hc := &http.Client{Timeout: time.Minute}
	senders := map[string]notify.Sender{}
	sc := notify.SlackConfig{APIURL: c.Slack.APIURL, Webhooks: map[string]yardstick.Secret{}}
	if c.Slack.TokenEnv != "" {
		sc.Token = yardstick.Secret(os.Getenv(c.Slack.TokenEnv))
	}
	if c.Slack.WebhookURLEnv != "" {
		sc.DefaultWebhook = yardstick.Secret(os.Getenv(c.Slack.WebhookURLEnv))
	}
	for ch, env := range c.Slack.ChannelWebhooks {
		if v := os.Getenv(env); v != "" {
			sc.Webhooks[ch] = yardstick.Secret(v)
		}
	}
	if sc.Token != "" || sc.DefaultWebhook != "" || len(sc.Webhooks) > 0 {
		senders[notify.ChannelSlack] = notify.NewSlack(sc, hc)
	}
	if e := c.Email; e != nil {
		ec := notify.EmailConfig{Host: e.Host, Port: e.Port, TLS: e.TLS, Auth: e.Auth, Username: e.Username, From: e.From, Timeout: e.Timeout}
		if e.PasswordEnv != "" {
			ec.Password = yardstick.Secret(os.Getenv(e.PasswordEnv))
		}
		em, err := notify.NewEmail(ec)
		if err != nil {
			return nil, fmt.Errorf("config notify.email: %w", err)
		}
		senders[notify.ChannelEmail] = em
	}
	for i, w := range c.Webhooks {
		url := w.URL
		if w.URLEnv != "" {
			url = os.Getenv(w.URLEnv)
		}
		wh, err := notify.NewWebhook(notify.WebhookConfig{Name: w.Name, URL: url, Secret: yardstick.Secret(os.Getenv(w.SecretEnv)), Retries: w.Retries, RetryWait: w.RetryWait}, hc, time.Now)
		if err != nil {
			return nil, fmt.Errorf("config notify.webhooks[%d]: %w", i, err)
		}
		senders[notify.ChannelWebhook+":"+w.Name] = wh
	}
	src := notify.Sources{Catalog: db, Changes: db, Campaigns: db, Digests: db, Collectors: db, Ledger: db,
		Rules: func() (*notify.Rules, *checks.RuleSet) { return rules, set }}
	if metrics != nil {
		src.Metrics = metrics
	}
	return notify.New(cfg, src, senders, a.logger.With("component", "notify"), a.now), nil
}

// notifyJob delivers due notifications on an interval; nil when no rules exist.
func notifyJob(n *notify.Notifier, interval time.Duration) scheduler.Job {
	if interval == 0 {
		interval = 5 * time.Minute
	}
	return scheduler.Job{Name: "notify", Interval: interval, Run: func(ctx context.Context) error {
		_, err := n.Tick(ctx)
		return err
	}}
}

// recordCollectorRuns wraps the sources' collector jobs so each run's
// outcome is stored, for the collector_failing trigger.
func recordCollectorRuns(db *store.DB, jobs []scheduler.Job, now func() time.Time) []scheduler.Job {
	out := make([]scheduler.Job, len(jobs))
	for i, j := range jobs {
		out[i] = j
		run := j.Run
		out[i].Run = func(ctx context.Context) error {
			err := run(ctx)
			r := yardstick.CollectorRun{Collector: j.Name, At: now()}
			if err != nil {
				r.Err = err.Error()
			}
			if rerr := db.RecordCollectorRun(context.WithoutCancel(ctx), r); rerr != nil && err == nil {
				return rerr
			}
			return err
		}
	}
	return out
}

// newNotifyCmd is `yardstick notify preview|send`.
func newNotifyCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "notify", Short: "Notifications: preview what is due, or send it once"}
	var at string
	build := func(ctx context.Context) (*store.DB, *notify.Notifier, error) {
		_, set, _, err := a.loadRules(&a.cfg.Rules, "", fixtures.Rules())
		if err != nil {
			return nil, nil, err
		}
		db, err := a.openStore(ctx)
		if err != nil {
			return nil, nil, err
		}
		sc, err := a.cfg.Serve.WithDefaults()
		if err != nil {
			_ = db.Close()
			return nil, nil, err
		}
		n, err := a.newNotifier(db, store.NewMetrics(db, sc.MetricsConfig()), set)
		if err != nil {
			_ = db.Close()
			return nil, nil, err
		}
		return db, n, nil
	}
	preview := &cobra.Command{
		Use:   "preview",
		Short: "Print what would be sent now: each notification, where it goes, and what the ledger says of it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := a.now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-11-30T09:00:00Z", at)
				}
				now = t
			}
			db, n, err := build(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			plan, err := n.Preview(cmd.Context(), now)
			if err != nil {
				return err
			}
			printPlan(a, plan)
			return nil
		},
	}
	preview.Flags().StringVar(&at, "at", "", "evaluate at this time instead of now (RFC 3339)")
	send := &cobra.Command{
		Use:   "send",
		Short: "Deliver what is due now, once (serve does this every notify.interval)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, n, err := build(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			rep, err := n.Tick(cmd.Context())
			fmt.Fprintf(a.out, "due %d, claimed %d, won %d, sent %d, failed %d, held for the next run %d\n", rep.Due, rep.Claimed, rep.Won, rep.Sent, rep.Failed, rep.Held)
			if err == nil && rep.Failed > 0 {
				return exitError{code: 1}
			}
			return err
		},
	}
	c.AddCommand(preview, send)
	return c
}

func printPlan(a *app, plan []notify.Planned) {
	if len(plan) == 0 {
		fmt.Fprintln(a.out, "Nothing is due.")
		return
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tWHEN\tTRIGGER\tGROUP\tTO\tTITLE")
	for _, p := range plan {
		when := ""
		if !p.At.IsZero() {
			when = p.At.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.State, when, p.Notification.Trigger, cmp.Or(string(p.Notification.Group), "(platform)"), p.Target, p.Notification.Title)
	}
	_ = tw.Flush()
	fmt.Fprintln(a.out)
	for _, p := range plan {
		if p.State != notify.StateDue && p.State != notify.StateQuiet {
			continue
		}
		fmt.Fprintf(a.out, "--- %s → %s\n%s\n", p.Notification.Trigger, p.Target, strings.TrimSpace(p.Notification.Text()))
	}
}
