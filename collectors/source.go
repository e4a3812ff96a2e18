package collectors

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick"
)

// A Source describes one source package to the binary, in the way
// node_exporter's collectors describe themselves: the binary, the scheduler,
// the webhook mux and the demo loop over the registered sources and know none
// of them by name. Each source package exports one func returning its Source.
type Source struct {
	// Name is stable: the config section key, the webhook path
	// (/webhooks/NAME), the collector's metric label and the scope prefix.
	Name string
	// Annotations are the catalog annotations the source reads, documented in
	// the README's annotation table.
	Annotations []string
	// Scopes returns the scopes e's annotations name for this source; nil when
	// e names none.
	Scopes func(e yardstick.Entity) []yardstick.Scope
	// NewConfig returns a pointer to the zero config the source's section of
	// yardstick.yaml is decoded into (strict: unknown keys are errors).
	NewConfig func() SourceConfig
	// New builds the collector from a validated, enabled config.
	New func(cfg SourceConfig, deps Deps) (Collector, error)
	// Webhook builds the handler mounted at /webhooks/NAME. Optional: nil
	// when the source takes no webhooks. It returns (nil, nil) when the config
	// has no webhook secret, so the route is not mounted.
	Webhook func(cfg SourceConfig, deps Deps) (http.Handler, error)
	// Demo starts a fake of the source's API serving the demo organisation
	// (the entities that carry the source's annotations) and returns a config
	// pointing at it. stop ends the fake. Optional.
	Demo func(ctx context.Context, entities []yardstick.Entity, now time.Time) (cfg SourceConfig, stop func(), err error)
}

// SourceConfig is a source's decoded config section.
type SourceConfig interface {
	// Enabled reports whether the section configures the source enough to run
	// (a base URL or a token). A disabled source is skipped, not an error.
	Enabled() bool
	// Validate checks an enabled config, reading secrets through getenv
	// (keys named *_env in the file name the variable). Errors name the key.
	Validate(getenv func(string) string) error
	// Hash changes when a setting that changes what is collected changes;
	// the runner resets the source's watermark when it does. Secrets are not
	// part of it.
	Hash() string
}

// Deps are what every source constructor gets: one struct, so that adding a
// dependency never changes a source's signature.
type Deps struct {
	Catalog    Catalog
	Cursors    CursorStore
	Writer     Writer
	Now        func() time.Time
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// HTTPClient is the base client; sources put it under the shared Transport.
	HTTPClient *http.Client
	// Getenv reads secrets named by the config's *_env keys.
	Getenv func(string) string
}

// Registry holds the sources compiled into the binary, in registration order.
type Registry struct {
	sources []Source
}

// NewRegistry returns a registry of sources. It panics on a duplicate or empty
// name, which is a programming error in the one registry line of cmd.
func NewRegistry(sources ...Source) *Registry {
	r := &Registry{}
	for _, s := range sources {
		if s.Name == "" || r.Lookup(s.Name) != nil {
			panic(fmt.Sprintf("collectors: source %q registered twice or without a name", s.Name))
		}
		r.sources = append(r.sources, s)
	}
	return r
}

// Sources returns the registered sources in registration order.
func (r *Registry) Sources() []Source { return slices.Clone(r.sources) }

// Lookup returns the source named name, or nil.
func (r *Registry) Lookup(name string) *Source {
	for i := range r.sources {
		if r.sources[i].Name == name {
			return &r.sources[i]
		}
	}
	return nil
}

// ScopesOf returns every scope e's annotations name, over all sources.
func (r *Registry) ScopesOf(e yardstick.Entity) []yardstick.Scope {
	var out []yardstick.Scope
	for _, s := range r.sources {
		if s.Scopes != nil {
			out = append(out, s.Scopes(e)...)
		}
	}
	return out
}

// DecodeConfig decodes a source's section of the config file into a fresh
// config; an absent section (node nil) gives the zero config.
func (s *Source) DecodeConfig(node *yaml.Node) (SourceConfig, error) {
	cfg := s.NewConfig()
	if node == nil {
		return cfg, nil
	}
	if err := node.Decode(cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", s.Name, err)
	}
	return cfg, nil
}
