package notify

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// FileConfig is the `notify:` section of yardstick.yaml (README,
// "Notifications"). Secrets are never in it: keys named *_env name the
// environment variable that holds them. Rules live next to the scorecards
// (kind: Notifications).
type FileConfig struct {
	// Interval is how often serve delivers what is due (default 5m).
	Interval     time.Duration `yaml:"interval"`
	BaseURL      string        `yaml:"base_url"`
	Lookback     time.Duration `yaml:"lookback"`
	Lease        time.Duration `yaml:"lease"`
	Settle       time.Duration `yaml:"settle"`
	SendTimeout  time.Duration `yaml:"send_timeout"`
	MaxAttempts  int           `yaml:"max_attempts"`
	RetryBase    time.Duration `yaml:"retry_base"`
	RetryMax     time.Duration `yaml:"retry_max"`
	MaxPerTarget int           `yaml:"max_per_target"`
	DefaultRoute struct {
		Slack string `yaml:"slack"`
		Email string `yaml:"email"`
	} `yaml:"default_route"`
	Slack struct {
		APIURL          string            `yaml:"api_url"`
		TokenEnv        string            `yaml:"token_env"`
		WebhookURLEnv   string            `yaml:"webhook_url_env"`
		ChannelWebhooks map[string]string `yaml:"channel_webhooks"` // channel → env var holding its incoming webhook URL
	} `yaml:"slack"`
	Email    *EmailFileConfig    `yaml:"email"`
	Webhooks []WebhookFileConfig `yaml:"webhooks"`
}

// EmailFileConfig is notify.email: the SMTP relay.
type EmailFileConfig struct {
	Host        string        `yaml:"host"`
	Port        int           `yaml:"port"`
	TLS         string        `yaml:"tls"`
	Auth        string        `yaml:"auth"`
	Username    string        `yaml:"username"`
	PasswordEnv string        `yaml:"password_env"`
	From        string        `yaml:"from"`
	Timeout     time.Duration `yaml:"timeout"`
}

// WebhookFileConfig is one entry of notify.webhooks.
type WebhookFileConfig struct {
	Name      string        `yaml:"name"`
	URL       string        `yaml:"url"`
	URLEnv    string        `yaml:"url_env"`
	SecretEnv string        `yaml:"secret_env"`
	Retries   int           `yaml:"retries"`
	RetryWait time.Duration `yaml:"retry_wait"`
}

// config is the notifier's Config the section describes, validated against
// the quiet hours of rules: a lookback shorter than a rule's quiet hours
// would miss the changes made during them.
func (c FileConfig) config(rules *Rules) (Config, error) {
	cfg := Config{BaseURL: c.BaseURL, Lookback: c.Lookback, Lease: c.Lease, Settle: c.Settle, SendTimeout: c.SendTimeout,
		MaxAttempts: c.MaxAttempts, RetryBase: c.RetryBase, RetryMax: c.RetryMax, MaxPerTarget: c.MaxPerTarget,
		Default: Route{SlackChannel: c.DefaultRoute.Slack, Email: c.DefaultRoute.Email}}
	if host, err := os.Hostname(); err == nil {
		cfg.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	full := cfg.WithDefaults()
	if err := full.Validate(); err != nil {
		return cfg, fmt.Errorf("config notify: %w", err)
	}
	for _, r := range rules.Rules {
		if r.QuietHours.Length() > full.Lookback {
			return cfg, fmt.Errorf("config notify: lookback %v is shorter than the quiet hours of rule %q (%s): changes during them would be missed",
				full.Lookback, r.Name, r.Pos)
		}
	}
	return cfg, nil
}

// senders builds the channels the section configures, reading secrets
// through getenv: Slack when a token or a webhook URL is set, e-mail when
// notify.email is, and each of notify.webhooks as "webhook:NAME".
func (c FileConfig) senders(getenv func(string) string, now func() time.Time) (map[string]Sender, error) {
	secret := func(env string) yardstick.Secret {
		if env == "" {
			return ""
		}
		return yardstick.Secret(getenv(env))
	}
	hc := &http.Client{Timeout: time.Minute}
	senders := map[string]Sender{}
	sc := SlackConfig{APIURL: c.Slack.APIURL, Token: secret(c.Slack.TokenEnv), DefaultWebhook: secret(c.Slack.WebhookURLEnv), Webhooks: map[string]yardstick.Secret{}}
	for ch, env := range c.Slack.ChannelWebhooks {
		if v := secret(env); v != "" {
			sc.Webhooks[ch] = v
		}
	}
	if sc.Token != "" || sc.DefaultWebhook != "" || len(sc.Webhooks) > 0 {
		senders[ChannelSlack] = NewSlack(sc, hc)
	}
	if e := c.Email; e != nil {
		em, err := NewEmail(EmailConfig{Host: e.Host, Port: e.Port, TLS: e.TLS, Auth: e.Auth, Username: e.Username,
			Password: secret(e.PasswordEnv), From: e.From, Timeout: e.Timeout})
		if err != nil {
			return nil, fmt.Errorf("config notify.email: %w", err)
		}
		senders[ChannelEmail] = em
	}
	for i, w := range c.Webhooks {
		url := w.URL
		if w.URLEnv != "" {
			url = getenv(w.URLEnv)
		}
		wh, err := NewWebhook(WebhookConfig{Name: w.Name, URL: url, Secret: secret(w.SecretEnv), Retries: w.Retries, RetryWait: w.RetryWait}, hc, now)
		if err != nil {
			return nil, fmt.Errorf("config notify.webhooks[%d]: %w", i, err)
		}
		senders[ChannelWebhook+":"+w.Name] = wh
	}
	return senders, nil
}

// FromConfig builds the notifier the notify section c describes on src, with
// the channels whose secrets getenv finds. Errors name the section's key.
func FromConfig(c FileConfig, src Sources, getenv func(string) string, logger *slog.Logger, now func() time.Time) (*Notifier, error) {
	rules, _ := src.Rules()
	cfg, err := c.config(rules)
	if err != nil {
		return nil, err
	}
	senders, err := c.senders(getenv, now)
	if err != nil {
		return nil, err
	}
	return New(cfg, src, senders, logger, now), nil
}
