// Package dashboards holds the built-in dashboards as code: YAML definitions
// (panels, each a named query and a chart type) that the ui renders, and
// Grafana dashboard JSON for teams that read the same ClickHouse tables from
// Grafana. It is data only.
package dashboards

import "embed"

// FS holds the built-in dashboard definitions (*.yaml at its root) and the
// Grafana dashboards (grafana/*.json).
//
//go:embed *.yaml grafana/*.json
var FS embed.FS
