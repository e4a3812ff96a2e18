package checks

import (
	"context"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
)

func TestCustomFunctions(t *testing.T) {
	env := mustEnv(t)
	in := sampleInput(t)
	in.Facts = yardstick.Facts{"github": {"go_version": "go1.22.3", "pushed_at": "2025-04-30T00:00:00Z", "created": "2025-01-01"}}
	a := env.Activation(in)
	for _, tt := range []struct {
		expr string
		want yardstick.CheckState
	}{
		{`semver("1.22.0") < semver("1.22.1")`, yardstick.StatePass},
		{`semver("1.22") == semver("1.22.0")`, yardstick.StatePass},
		{`semver("v1.22.1") > semver("1.22.0")`, yardstick.StatePass},
		{`semver("1.22.0-rc1") < semver("1.22.0")`, yardstick.StatePass},
		{`semver("1.10.0") > semver("1.9.0")`, yardstick.StatePass},
		{`semver("1.21.9") >= semver("1.22")`, yardstick.StateFail},
		{`semver("1.22.0") <= semver("1.22.0")`, yardstick.StatePass},
		{`semver("1.22.0") != semver("1.23.0")`, yardstick.StatePass},
		{`semver(facts.github.go_version) >= semver("1.22.0")`, yardstick.StatePass},
		{`semver(facts.github.go_version).minor() == 22 && semver("2.3.4").major() == 2 && semver("2.3.4").patch() == 4`, yardstick.StatePass},
		{`isSemver("1.2.3") && !isSemver("latest")`, yardstick.StatePass},
		{`semver("latest") > semver("1.0.0")`, yardstick.StateUnknown},
		{`daysSince(facts.github.pushed_at) == 1.5`, yardstick.StatePass},
		{`daysSince(facts.github.created) > 120.0`, yardstick.StatePass},
		{`daysSince(timestamp("2025-04-01T12:00:00Z")) == 30.0`, yardstick.StatePass},
		{`daysSince(timestamp("2025-04-01T12:00:00Z"), timestamp("2025-04-03T00:00:00Z")) == 1.5`, yardstick.StatePass},
		{`daysSince("yesterday") > 0.0`, yardstick.StateUnknown},
		{`parseDuration("1w2d") == duration("216h")`, yardstick.StatePass},
		{`parseDuration("1h30m") == duration("90m")`, yardstick.StatePass},
		{`parseDuration("-1.5d") == duration("-36h")`, yardstick.StatePass},
		{`parseDuration("soon") > duration("1h")`, yardstick.StateUnknown},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			got := mustProgram(t, env, tt.expr).Eval(context.Background(), a)
			if got.State != tt.want {
				t.Errorf("Eval(%q) = %s (%v), want %s", tt.expr, got.State, got.Err, tt.want)
			}
		})
	}
}

func TestCustomFunctionTypeErrors(t *testing.T) {
	env := mustEnv(t)
	for _, expr := range []string{
		`semver("1.0.0") < "1.0.1"`,
		`semver(1) > semver("1.0.0")`,
		`daysSince(3) > 1.0`,
		`parseDuration(5) > duration("1h")`,
	} {
		if _, err := env.LoadFile("t.yaml", []byte(header+"  - id: c\n    title: C\n    level: bronze\n    expr: "+quoteYAML(expr)+"\n")); err == nil {
			t.Errorf("LoadFile(%q) = nil, want a type error", expr)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30d", 30 * 24 * time.Hour, false},
		{"2w", 14 * 24 * time.Hour, false},
		{"1w1d12h", 8*24*time.Hour + 12*time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"1.5h", 90 * time.Minute, false},
		{"0.5d", 12 * time.Hour, false},
		{"-2d", -48 * time.Hour, false},
		{"+3s", 3 * time.Second, false},
		{"", 0, true},
		{"d", 0, true},
		{"10", 0, true},
		{"3y", 0, true},
		{"1..2d", 0, true},
	} {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
