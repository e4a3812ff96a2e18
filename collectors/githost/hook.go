package githost

import (
	"log/slog"
	"time"

	"github.com/yardstick-dev/yardstick/collectors"
)

// DefaultMaxWebhookBody caps a delivery's body: 25 MiB, GitHub's own cap on
// webhook payloads and GitLab's default limit.
const DefaultMaxWebhookBody = 25 << 20

// CatalogTTL is how long a hook handler trusts its copy of the catalog's
// repositories.
const CatalogTTL = time.Minute

// Hook is what the hosts' webhook handlers share: the collectors.Webhook
// scaffold (body limit, verification, answers, metrics), the writer, a
// logger and the catalog's scopes.
type Hook struct {
	*collectors.Webhook
	W      collectors.Writer
	Logger *slog.Logger
	Scopes *collectors.ScopeCache
}

// NewHook builds the Hook of a host's collector (its catalog, clock and
// logger) writing into w: the scaffold as cfg says, with the body limit
// defaulting to DefaultMaxWebhookBody and the logger set to the hook's. Set
// cfg.Handle to a method of the handler that embeds the Hook.
func NewHook(w collectors.Writer, catalog collectors.Catalog, now func() time.Time, logger *slog.Logger, cfg collectors.WebhookConfig) (Hook, error) {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxWebhookBody
	}
	h := Hook{W: w, Logger: logger.With("handler", "webhook"), Scopes: collectors.NewScopeCache(catalog, CatalogTTL, now)}
	cfg.Logger = h.Logger
	var err error
	h.Webhook, err = collectors.NewWebhook(cfg)
	return h, err
}
