package notify

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/yardstick-dev/yardstick/checks"
)

func TestFileConfigSenders(t *testing.T) {
	env := map[string]string{"SLACK_TOKEN": "xoxb-1", "OPS_SECRET": "s", "OPS_URL": "https://ops.example/hook"}
	var c FileConfig
	c.Slack.TokenEnv = "SLACK_TOKEN"
	c.Email = &EmailFileConfig{Host: "smtp.example", From: "yardstick@example.com"}
	c.Webhooks = []WebhookFileConfig{{Name: "ops", URLEnv: "OPS_URL", SecretEnv: "OPS_SECRET"}}
	senders, err := c.senders(func(k string) string { return env[k] }, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ChannelEmail, ChannelSlack, ChannelWebhook + ":ops"}
	var got []string
	for k := range senders {
		got = append(got, k)
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("senders (-want +got):\n%s", diff)
	}
	if senders, err := (FileConfig{}).senders(func(string) string { return "" }, time.Now); err != nil || len(senders) != 0 {
		t.Errorf("senders of an empty section = %v, %v; want none", senders, err)
	}
}

func TestFileConfigRefuses(t *testing.T) {
	night := &Rules{Rules: []Rule{{Name: "squads", Pos: "n.yaml:3", QuietHours: &QuietHours{Start: 20 * time.Hour, End: 8 * time.Hour}}}}
	for _, tt := range []struct {
		name  string
		c     FileConfig
		rules *Rules
		want  string
	}{
		{"settle under a second", FileConfig{Settle: time.Millisecond}, &Rules{}, "config notify: notify settle"},
		{"lookback shorter than quiet hours", FileConfig{Lookback: time.Hour}, night, `quiet hours of rule "squads" (n.yaml:3)`},
		{"e-mail without a host", FileConfig{Email: &EmailFileConfig{From: "a@b"}}, &Rules{}, "config notify.email: email: host and from are required"},
		{"webhook without a secret", FileConfig{Webhooks: []WebhookFileConfig{{Name: "ops", URL: "https://x"}}}, &Rules{}, "config notify.webhooks[0]: webhook ops"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := Sources{Rules: func() (*Rules, *checks.RuleSet) { return tt.rules, nil }}
			_, err := FromConfig(tt.c, src, func(string) string { return "" }, nil, time.Now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FromConfig() = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
