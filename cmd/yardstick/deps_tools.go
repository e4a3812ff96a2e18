//go:build tools

// This file pins the modules the packages use before each has its first importer,
// so that go mod tidy keeps them. It is never built.
package main

import (
	_ "cel.dev/cel-go/cel"
	_ "cel.dev/cel-go/ext"
	_ "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/Masterminds/semver/v3"
	_ "github.com/PagerDuty/go-pagerduty"
	_ "github.com/andygrunwald/go-jira"
	_ "github.com/cenkalti/backoff/v4"
	_ "github.com/gofrs/flock"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/go-github/v62/github"
	_ "github.com/labstack/echo/v4"
	_ "github.com/labstack/echo/v4/middleware"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promauto"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/spf13/cobra"
	_ "gopkg.in/yaml.v3"
)
