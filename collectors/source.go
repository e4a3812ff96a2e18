package collectors

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
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
	// FactNamespaces are further names under which rules see the source's
	// facts, besides facts.NAME: the Git hosts (github, gitlab) declare
	// "git", so that facts.git.files.readme reads a repository's facts
	// whichever host it is on. Optional.
	FactNamespaces []string
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
	// Events reads and deletes stored events, for sources that withdraw what
	// was deleted upstream. Optional: sources that need it say so in New.
	Events EventStore
	// Metrics are the shared collector metrics the Transport records into.
	Metrics *Metrics
	// HTTPClient is the base client; sources put it under the shared Transport.
	HTTPClient *http.Client
	// Getenv reads secrets named by the config's *_env keys.
	Getenv func(string) string
}

// EventStore is what a source that reconciles deletions needs from the store:
// the live events of source in scope of the given types (all when empty) at
// or after since, and tombstones for events that vanished upstream. Both are
// safe for concurrent use.
type EventStore interface {
	ScopeEvents(ctx context.Context, source string, scope yardstick.Scope, types []string, since time.Time) ([]yardstick.Event, error)
	DeleteEvents(ctx context.Context, events []yardstick.Event) error
}

// HTTPClientFor returns a client on a Transport that retries the source's
// faults with cfg and records into d.Metrics, over d.HTTPClient's transport
// when one is set. Requests time out after two minutes.
func (d Deps) HTTPClientFor(source string, cfg RetryConfig) *http.Client {
	var base http.RoundTripper
	if d.HTTPClient != nil {
		base = d.HTTPClient.Transport
	}
	return &http.Client{Transport: NewTransport(base, source, cfg, d.Metrics), Timeout: 2 * time.Minute}
}

// Optional behaviour of a source's config or collector, found by type
// assertion so that the Source contract stays small.
type (
	// RunTimeouter is a SourceConfig that bounds one collector run (its
	// `timeout` key); the runner's default applies otherwise.
	RunTimeouter interface{ RunTimeout() time.Duration }
	// FullSyncer is a Collector that can ignore its saved cursors and re-read
	// its whole backfill window (`yardstick collect NAME --full`).
	FullSyncer interface{ ForceFull(on bool) }
	// Reconciler is a Collector with a pass that removes what was deleted
	// upstream or left the catalog (`collect NAME --reconcile`, and a job
	// of its own in serve every ReconcileInterval). The summary is one line.
	Reconciler interface {
		ReconcileOnce(ctx context.Context) (summary string, err error)
		ReconcileInterval() time.Duration
	}
)

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

// FactNamespaces returns the further namespaces the facts of source are
// visible under (its Source.FactNamespaces), nil for an unknown source. The
// store takes it as store.Config.FactNamespaces.
func (r *Registry) FactNamespaces(source string) []string {
	if s := r.Lookup(source); s != nil {
		return slices.Clone(s.FactNamespaces)
	}
	return nil
}

// DecodeConfig decodes a source's section of the config file into a fresh
// config; an absent section (node nil) gives the zero config. It is strict:
// a key the config does not know is an error naming its line, so a typo never
// passes silently.
func (s *Source) DecodeConfig(node *yaml.Node) (SourceConfig, error) {
	cfg := s.NewConfig()
	if node == nil {
		return cfg, nil
	}
	if err := DecodeStrict(node, cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", s.Name, err)
	}
	return cfg, nil
}

// DecodeStrict decodes node into v (a pointer) like node.Decode, and fails on
// the first mapping key that names no field of the target, with its line.
// (yaml.v3 checks unknown fields only in a Decoder, not in Node.Decode.)
func DecodeStrict(node *yaml.Node, v any) error {
	if err := unknownKeys(node, reflect.TypeOf(v)); err != nil {
		return err
	}
	return node.Decode(v)
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// unknownKeys walks node along t and reports the first mapping key that t
// does not have. Types that unmarshal themselves are not walked.
func unknownKeys(node *yaml.Node, t reflect.Type) error {
	for node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return nil
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return nil // node.Decode reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		structFields(t, fields)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, val := node.Content[i], node.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				return fmt.Errorf("line %d: unknown key %q", k.Line, k.Value)
			}
			if err := unknownKeys(val, ft); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if node.Kind == yaml.SequenceNode {
			for _, n := range node.Content {
				if err := unknownKeys(n, t.Elem()); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if node.Kind == yaml.MappingNode {
			for i := 1; i < len(node.Content); i += 2 {
				if err := unknownKeys(node.Content[i], t.Elem()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// structFields maps the yaml key of every field of t (inline structs
// flattened) to the field's type, as yaml.v3 names them.
func structFields(t reflect.Type, into map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") && f.Type.Kind() == reflect.Struct {
			structFields(f.Type, into)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		into[name] = f.Type
	}
}

// ValidConfig returns sc as a source's own config type C. It returns an
// error naming the source when sc is another type or was not validated.
func ValidConfig[C interface {
	SourceConfig
	Validated() bool
}](source string, sc SourceConfig) (C, error) {
	c, ok := sc.(C)
	if !ok || !c.Validated() {
		var zero C
		return zero, fmt.Errorf("%s: config %T is not a validated %s config: %w", source, sc, source, yardstick.ErrInvalid)
	}
	return c, nil
}

// EnvSecret reads the secret that config key names by environment variable:
// env, or def when env is empty. An unset variable is an error naming both.
func EnvSecret(getenv func(string) string, key, env, def string) (yardstick.Secret, error) {
	if env == "" {
		env = def
	}
	v := getenv(env)
	if v == "" {
		return "", fmt.Errorf("environment variable %s (%s) is empty: %w", env, key, yardstick.ErrInvalid)
	}
	return yardstick.Secret(v), nil
}

// Resolved is embedded in a source's file config, tagged yaml:"-": the
// runtime config T its Validate resolved (or the demo set), which also
// gives the file config the Validated method ValidConfig needs.
type Resolved[T any] struct{ cfg *T }

// ResolvedTo returns a Resolved holding cfg, for a file config built in code
// (a source's demo).
func ResolvedTo[T any](cfg T) Resolved[T] { return Resolved[T]{&cfg} }

// Validated reports whether Validate resolved the config.
func (r *Resolved[T]) Validated() bool { return r.cfg != nil }

// Runtime returns the resolved runtime config. Only for a Validated config.
func (r *Resolved[T]) Runtime() T { return *r.cfg }

// Resolve stores cfg when it comes without an error, and returns the error:
// a file config's Validate is `return c.Resolve(c.collectorConfig(getenv))`.
func (r *Resolved[T]) Resolve(cfg T, err error) error {
	if err != nil {
		return err
	}
	r.cfg = &cfg
	return nil
}

// FileSection holds the keys every source's section of yardstick.yaml has.
// A source's file config inlines it (yaml:",inline").
type FileSection struct {
	BaseURL      string        `yaml:"base_url"`
	TokenEnv     string        `yaml:"token_env"`
	BackfillDays int           `yaml:"backfill_days"` // a full sync reads this far back
	Timeout      time.Duration `yaml:"timeout"`       // one run
}

// RunTimeout is the section's timeout (RunTimeouter).
func (f *FileSection) RunTimeout() time.Duration { return f.Timeout }

// Backfill is backfill_days as a duration.
func (f *FileSection) Backfill() time.Duration { return time.Duration(f.BackfillDays) * 24 * time.Hour }

// Check reads the section's token (key SECTION.token_env: that variable, or
// def) and checks that backfill_days and keys are not negative. Errors name
// the key and wrap yardstick.ErrInvalid.
func (f *FileSection) Check(getenv func(string) string, section, def string, keys ...IntKey) (yardstick.Secret, error) {
	token, err := EnvSecret(getenv, section+".token_env", f.TokenEnv, def)
	if err != nil {
		return "", fmt.Errorf("%s: %w", section, err)
	}
	return token, NonNegative(section, append([]IntKey{{Key: "backfill_days", Value: f.BackfillDays}}, keys...)...)
}

// IntKey is a config key with an integer value, for NonNegative.
type IntKey struct {
	Key   string
	Value int
}

// NonNegative returns an error naming the first of keys (of section) whose
// value is negative, wrapping yardstick.ErrInvalid.
func NonNegative(section string, keys ...IntKey) error {
	for _, k := range keys {
		if k.Value < 0 {
			return fmt.Errorf("%s.%s: %d is negative: %w", section, k.Key, k.Value, yardstick.ErrInvalid)
		}
	}
	return nil
}

// ServeLoopback serves h on a free loopback port, for a source's Demo fake,
// and returns its base URL and a stop func that shuts it down (waiting up to
// five seconds for requests in flight).
func ServeLoopback(h http.Handler) (baseURL string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
