package githost

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestParsePackageJSON(t *testing.T) {
	p, err := ParsePackageJSON([]byte(`{"name":"web","version":"1.0.0","dependencies":{"react":"^18"},"devDependencies":{"vite":"5"},"engines":{"node":">=20"}}`))
	if err != nil || !p.Present || p.Name != "web" || p.Dependencies["react"] != "^18" || p.DevDependencies["vite"] != "5" || p.Engines["node"] != ">=20" {
		t.Errorf("ParsePackageJSON() = %+v, %v", p, err)
	}
	b, _ := json.Marshal(p)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["dev_dependencies"] == nil {
		t.Errorf("package_json fact = %s, want dev_dependencies in snake case", b)
	}
	if _, err := ParsePackageJSON([]byte(`{"name":`)); err == nil {
		t.Error("ParsePackageJSON(truncated) = nil error")
	}
}

func TestGoModAddRequire(t *testing.T) {
	m := GoMod{Requires: map[string]string{}}
	m.AddRequire("golang.org/x/mod", "v0.20.0", false)
	m.AddRequire("golang.org/x/sys", "v0.25.0", true)
	if m.Requires["golang.org/x/mod"] != "v0.20.0" || len(m.Indirect) != 1 || m.Indirect[0] != "golang.org/x/sys" {
		t.Errorf("GoMod = %+v", m)
	}
}

func TestDockerfileImages(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"multi-stage", "FROM golang:1.22 AS build\nRUN go build\nFROM build AS test\nFROM gcr.io/distroless/static\n", []string{"golang:1.22", "gcr.io/distroless/static"}},
		{"platform flag and lower case", "from --platform=$BUILDPLATFORM node:20-alpine as deps\n", []string{"node:20-alpine"}},
		{"arg default", "ARG BASE=python:3.12-slim\nFROM ${BASE}\n", []string{"python:3.12-slim"}},
		{"continuation and comments", "# base\nFROM \\\n  alpine:3.19\nFROM scratch\n", []string{"alpine:3.19"}},
		{"unknown arg kept", "FROM $IMAGE\n", []string{"$IMAGE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := DockerfileImages([]byte(c.file)); !slices.Equal(got, c.want) {
				t.Errorf("DockerfileImages(%q) = %v, want %v", c.file, got, c.want)
			}
		})
	}
}

func TestDockerfileImagesGitLabShape(t *testing.T) {
	got := DockerfileImages([]byte("# build\nARG BASE=alpine:3.20\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN apk add \\\n  git\nFROM build AS test\nFROM ${BASE}\nFROM scratch\n"))
	want := []string{"golang:1.22", "alpine:3.20"}
	if !slices.Equal(got, want) {
		t.Errorf("DockerfileImages = %v, want %v", got, want)
	}
}
