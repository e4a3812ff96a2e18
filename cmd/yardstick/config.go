package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// config is the file `yardstick.yaml`. Every key is documented in the README
// ("Configuration"). Secrets are never written here: keys named *_env name the
// environment variable that holds them.
type config struct {
	DataDir    string           `yaml:"data_dir"`
	ClickHouse clickhouseConfig `yaml:"clickhouse"`
	Catalog    catalogConfig    `yaml:"catalog"`
	GitHub     githubConfig     `yaml:"github"`
	Jira       jiraConfig       `yaml:"jira"`
	PagerDuty  pagerdutyConfig  `yaml:"pagerduty"`
	Rules      rulesConfig      `yaml:"rules"`
	Serve      serveConfig      `yaml:"serve"`
	Notify     notifyConfig     `yaml:"notify"`
}

type clickhouseConfig struct {
	DSN      string `yaml:"dsn"`
	Database string `yaml:"database"`
	// ReadTimeout and WriteTimeout bound every query and every write (default
	// 30s and 60s): a stopped server gives an error, never a hang.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

type catalogConfig struct {
	// Paths are files, folders or globs of catalog-info.yaml files.
	Paths     []string        `yaml:"paths"`
	Backstage backstageConfig `yaml:"backstage"`
	// Sources are named sources, each owning its entities (see catalog.go).
	Sources          []catalogSourceConfig `yaml:"sources"`
	AllowOutsideRoot bool                  `yaml:"allow_outside_root"` // Location targets may leave the imported folder
	AllowedHosts     []string              `yaml:"allowed_hosts"`      // hosts URL targets may name
	MaxShrink        float64               `yaml:"max_shrink"`         // share of a source an import may remove; 0: 0.5
}

type backstageConfig struct {
	URL      string `yaml:"url"`
	TokenEnv string `yaml:"token_env"` // env var with a Backstage service token
}

// loadConfig reads path, or ./yardstick.yaml when path is empty and the file
// exists. Unknown keys are errors with their line, so typos do not pass silently.
func loadConfig(path string) (config, error) {
	var cfg config
	explicit := path != ""
	if path == "" {
		path = firstNonEmpty(os.Getenv("YARDSTICK_CONFIG"), "yardstick.yaml")
		explicit = os.Getenv("YARDSTICK_CONFIG") != ""
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Catalog.validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}
