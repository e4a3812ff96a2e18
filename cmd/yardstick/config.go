package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/yardstick-dev/yardstick/collectors"
	"github.com/yardstick-dev/yardstick/collectors/catalog/catalogsync"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/serve"
)

// config is the file `yardstick.yaml`. Every key is documented in the README
// ("Configuration"). Secrets are never written here: keys named *_env name the
// environment variable that holds them.
type config struct {
	DataDir    string             `yaml:"data_dir"`
	ClickHouse clickhouseConfig   `yaml:"clickhouse"`
	Catalog    catalogsync.Config `yaml:"catalog"`
	Rules      rulesConfig        `yaml:"rules"`
	Serve      serve.Config       `yaml:"serve"`
	Notify     notify.FileConfig  `yaml:"notify"`
	// Sections holds every other top-level key: one section per registered
	// source, decoded by the source itself.
	Sections map[string]yaml.Node `yaml:",inline"`

	// sources are the decoded source sections, by source name; every
	// registered source has one (the zero config when its section is absent).
	sources map[string]collectors.SourceConfig
}

type clickhouseConfig struct {
	DSN      string `yaml:"dsn"`
	Database string `yaml:"database"`
	// ReadTimeout and WriteTimeout bound every query and every write (default
	// 30s and 60s): a stopped server gives an error, never a hang.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	Cluster      string        `yaml:"cluster"` // cluster mode on this remote_servers cluster (docs/cluster.md)
}

// loadConfig reads path, or ./yardstick.yaml when path is empty and the file
// exists, and decodes each registered source's section with the source's own
// config type. Unknown keys are errors with their line, so typos do not pass
// silently.
func loadConfig(path string, sources *collectors.Registry) (config, error) {
	var cfg config
	explicit := path != ""
	if path == "" {
		path = cmp.Or(os.Getenv("YARDSTICK_CONFIG"), "yardstick.yaml")
		explicit = os.Getenv("YARDSTICK_CONFIG") != ""
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		b = nil
	case err != nil:
		return cfg, fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := checkSections(&doc, sources); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Catalog.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.sources = map[string]collectors.SourceConfig{}
	for _, s := range sources.Sources() {
		var node *yaml.Node
		if n, ok := cfg.Sections[s.Name]; ok {
			node = &n
		}
		if cfg.sources[s.Name], err = s.DecodeConfig(node); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	return cfg, nil
}

// coreSections are the top-level keys that are not source sections.
var coreSections = []string{"data_dir", "clickhouse", "catalog", "rules", "serve", "notify"}

// checkSections refuses a top-level key that is neither a core section nor
// a registered source, naming its line.
func checkSections(doc *yaml.Node, sources *collectors.Registry) error {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil // empty, or not a mapping: the decoder says why
	}
	var names []string
	for _, s := range sources.Sources() {
		names = append(names, s.Name)
	}
	top := doc.Content[0].Content
	for i := 0; i < len(top); i += 2 {
		if k := top[i]; !slices.Contains(coreSections, k.Value) && !slices.Contains(names, k.Value) {
			return fmt.Errorf("line %d: unknown key %q (sections: %s, and the sources %s)",
				k.Line, k.Value, strings.Join(coreSections, ", "), strings.Join(names, ", "))
		}
	}
	return nil
}
