package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/yardstick-dev/yardstick"
)

// EmailConfig configures the e-mail channel (SMTP).
type EmailConfig struct {
	Host     string
	Port     int    // default 587
	TLS      string // "starttls" (default, required), "tls" (implicit, port 465) or "none" (loopback relays only)
	Auth     string // "plain" (default), "login", "cram-md5", "auto" or "none"
	Username string
	Password yardstick.Secret
	From     string
	Timeout  time.Duration // default 30s
	// TLSConfig overrides the TLS settings (tests trust their own CA); nil uses the system roots.
	TLSConfig *tls.Config
}

// Email sends notifications as multipart mail: plain text and HTML.
type Email struct{ cfg EmailConfig }

// NewEmail builds the e-mail channel.
func NewEmail(cfg EmailConfig) (*Email, error) {
	if cfg.Host == "" || cfg.From == "" {
		return nil, fmt.Errorf("email: host and from are required: %w", yardstick.ErrInvalid)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	switch cfg.TLS {
	case "", "starttls", "tls", "none":
	default:
		return nil, fmt.Errorf("email tls %q: want starttls, tls or none: %w", cfg.TLS, yardstick.ErrInvalid)
	}
	switch cfg.Auth {
	case "", "plain", "login", "cram-md5", "auto", "none":
	default:
		return nil, fmt.Errorf("email auth %q: want plain, login, cram-md5, auto or none: %w", cfg.Auth, yardstick.ErrInvalid)
	}
	return &Email{cfg: cfg}, nil
}

// Send mails n to the comma-separated addresses in to. The Message-ID is
// derived from the delivery, so a receiver can drop a duplicate.
func (e *Email) Send(ctx context.Context, to string, n Notification, delivery string) error {
	var rcpts []string
	for _, a := range strings.Split(to, ",") {
		if a = strings.TrimSpace(a); a != "" {
			rcpts = append(rcpts, a)
		}
	}
	if len(rcpts) == 0 {
		return fmt.Errorf("email: no address in %q: %w", to, yardstick.ErrInvalid)
	}
	m := mail.NewMsg()
	if err := m.From(e.cfg.From); err != nil {
		return fmt.Errorf("email from %q: %w", e.cfg.From, err)
	}
	if err := m.To(rcpts...); err != nil {
		return fmt.Errorf("email to %q: %w", to, err)
	}
	m.Subject(n.Title)
	m.SetMessageIDWithValue(delivery + "@yardstick")
	m.SetDate()
	m.SetGenHeader("X-Yardstick-Trigger", n.Trigger)
	html, err := renderHTML(n.Message)
	if err != nil {
		return err
	}
	m.SetBodyString(mail.TypeTextPlain, n.Text())
	m.AddAlternativeString(mail.TypeTextHTML, html)

	opts := []mail.Option{mail.WithPort(e.cfg.Port), mail.WithTimeout(e.cfg.Timeout)}
	tc := e.cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: e.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	switch e.cfg.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(tc))
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tc))
	}
	auth := map[string]mail.SMTPAuthType{"": mail.SMTPAuthPlain, "plain": mail.SMTPAuthPlain, "login": mail.SMTPAuthLogin,
		"cram-md5": mail.SMTPAuthCramMD5, "auto": mail.SMTPAuthAutoDiscover}[e.cfg.Auth]
	if e.cfg.Auth != "none" && e.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(e.cfg.Username), mail.WithPassword(e.cfg.Password.Reveal()))
	}
	c, err := mail.NewClient(e.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("email client %s:%d: %w", e.cfg.Host, e.cfg.Port, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("email via %s:%d to %s: %w", e.cfg.Host, e.cfg.Port, to, err)
	}
	return nil
}

var mailTemplate = template.Must(template.New("mail").Parse(`<!DOCTYPE html>
<html><body style="font-family: sans-serif; color: #1f2328">
<h2>{{.Title}}</h2>
{{with .Summary}}<p>{{.}}</p>{{end}}
{{range .Sections}}<h3>{{.Heading}}</h3>
<ul>{{range .Lines}}<li>{{if .Link}}<a href="{{.Link}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}</li>{{end}}</ul>
{{end}}{{with .Link}}<p><a href="{{.}}">Open in Yardstick</a></p>{{end}}
</body></html>
`))

func renderHTML(m Message) (string, error) {
	var b bytes.Buffer
	if err := mailTemplate.Execute(&b, m); err != nil {
		return "", fmt.Errorf("render mail: %w", err)
	}
	return b.String(), nil
}
