package yardstick

import (
	"encoding/json"
	"time"
)

// Fact is the latest known value of one named property of a scope, such as the
// branch protection of a repository. Value is JSON so that rules see structure:
// facts.github.branch_protection.required_reviews.
type Fact struct {
	Source     string // "github"
	Scope      Scope  // "github:acme/api", or EntityScope(ref) for per-entity facts
	Name       string // "branch_protection"
	Value      json.RawMessage
	ObservedAt time.Time // when the source said so; history is keyed by it
}

// Facts are the latest facts of one entity by source and name:
// facts["github"]["branch_protection"] is a decoded JSON value.
type Facts map[string]map[string]any

// NewFact builds a fact from any JSON-encodable value. It panics only if v cannot
// be encoded, which is a programming error (channels, functions).
func NewFact(source string, scope Scope, name string, v any, at time.Time) Fact {
	b, err := json.Marshal(v)
	if err != nil {
		panic("yardstick.NewFact: " + err.Error())
	}
	return Fact{Source: source, Scope: scope, Name: name, Value: b, ObservedAt: at.UTC()}
}
