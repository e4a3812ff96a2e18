package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/yardstick-dev/yardstick"
)

// SlackConfig configures the Slack channel. With a bot token, messages go
// through chat.postMessage to the routed channel; a channel listed in
// Webhooks goes through that incoming webhook instead; without a token,
// DefaultWebhook takes every message.
type SlackConfig struct {
	APIURL         string           // default https://slack.com/api/
	Token          yardstick.Secret // bot token (xoxb-…), needs chat:write
	Webhooks       map[string]yardstick.Secret
	DefaultWebhook yardstick.Secret
}

// Slack sends notifications as Block Kit messages.
type Slack struct {
	cfg    SlackConfig
	http   *http.Client
	client *slack.Client
}

// NewSlack builds the Slack channel on hc.
func NewSlack(cfg SlackConfig, hc *http.Client) *Slack {
	if cfg.APIURL == "" {
		cfg.APIURL = "https://slack.com/api/"
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	s := &Slack{cfg: cfg, http: hc}
	if cfg.Token != "" {
		s.client = slack.New(cfg.Token.Reveal(), slack.OptionAPIURL(cfg.APIURL), slack.OptionHTTPClient(hc))
	}
	return s
}

// Send posts n to channel.
func (s *Slack) Send(ctx context.Context, channel string, n Notification, _ string) error {
	blocks := slackBlocks(n.Message)
	fallback := truncate(n.Title, 3000)
	hook := s.cfg.Webhooks[channel]
	if hook == "" && s.client == nil {
		hook = s.cfg.DefaultWebhook
	}
	if hook != "" {
		msg := &slack.WebhookMessage{Text: fallback, Blocks: &slack.Blocks{BlockSet: blocks}}
		if err := slack.PostWebhookCustomHTTPContext(ctx, hook.Reveal(), s.http, msg); err != nil {
			return fmt.Errorf("slack incoming webhook for %s: %w", channel, withoutURL(err))
		}
		return nil
	}
	if s.client == nil {
		return fmt.Errorf("slack %s: no bot token and no incoming webhook configured: %w", channel, yardstick.ErrInvalid)
	}
	if _, _, err := s.client.PostMessageContext(ctx, channel, slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)); err != nil {
		return fmt.Errorf("slack chat.postMessage to %s: %w", channel, err)
	}
	return nil
}

// withoutURL drops the URL from a transport error: an incoming webhook's
// URL is its secret, and errors end up in logs and the ledger.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// slackBlocks renders a message as Block Kit: a header, the summary, one
// section per section (text objects hold at most 3000 characters), and a link.
func slackBlocks(m Message) []slack.Block {
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, truncate(m.Title, 150), false, false))}
	if m.Summary != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(slackEscape(m.Summary), 3000), false, false), nil, nil))
	}
	for _, sec := range m.Sections {
		var b strings.Builder
		b.WriteString("*" + slackEscape(sec.Heading) + "*")
		for _, l := range sec.Lines {
			b.WriteString("\n• ")
			if l.Link != "" {
				b.WriteString("<" + l.Link + "|" + slackEscape(l.Text) + ">")
			} else {
				b.WriteString(slackEscape(l.Text))
			}
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(b.String(), 3000), false, false), nil, nil))
	}
	if m.Link != "" {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "<"+m.Link+"|Open in Yardstick>", false, false)))
	}
	if len(blocks) > 50 { // Slack's limit per message
		blocks = blocks[:50]
	}
	return blocks
}
