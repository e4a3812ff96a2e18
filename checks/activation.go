package checks

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/yardstick-dev/yardstick"
)

// entityTypeName is the CEL name ext.NativeTypes gives Entity: package name
// plus type name.
const entityTypeName = "checks.Entity"

// Entity is the catalog entity as rules see it (`entity.owner`). Kind is
// lower-cased like refs ("component"); refs (ref, owner, system, domain,
// parent) are full refs ("group:default/payments") or "" when unset. Spec is
// the entity's whole spec as decoded JSON, so rules reach any field
// (`entity.spec.type`).
type Entity struct {
	Ref         string            `cel:"ref"`
	Kind        string            `cel:"kind"`
	Namespace   string            `cel:"namespace"`
	Name        string            `cel:"name"`
	Title       string            `cel:"title"`
	Description string            `cel:"description"`
	Type        string            `cel:"type"`
	Lifecycle   string            `cel:"lifecycle"`
	Owner       string            `cel:"owner"`
	System      string            `cel:"system"`
	Domain      string            `cel:"domain"`
	Parent      string            `cel:"parent"`
	Tags        []string          `cel:"tags"`
	Annotations map[string]string `cel:"annotations"`
	Labels      map[string]string `cel:"labels"`
	Spec        map[string]any    `cel:"spec"`
}

// NewEntity converts a catalog entity to what rules see. It returns an error
// naming the entity when its spec is not a JSON object.
func NewEntity(e yardstick.Entity) (Entity, error) {
	out := Entity{
		Ref:         string(e.Ref),
		Kind:        strings.ToLower(e.Kind),
		Namespace:   e.Namespace,
		Name:        e.Name,
		Title:       e.Title,
		Description: e.Description,
		Type:        e.Type,
		Lifecycle:   e.Lifecycle,
		Owner:       string(e.Owner),
		System:      string(e.System),
		Domain:      string(e.Domain),
		Parent:      string(e.Parent),
		Tags:        nonNilStrings(e.Tags),
		Annotations: nonNilMap(e.Annotations),
		Labels:      nonNilMap(e.Labels),
		Spec:        map[string]any{},
	}
	if out.Kind == "" {
		out.Kind = e.Ref.Kind()
	}
	if out.Namespace == "" {
		out.Namespace = e.Ref.Namespace()
	}
	if out.Name == "" {
		out.Name = e.Ref.Name()
	}
	if strings.TrimSpace(e.Spec) != "" {
		if err := json.Unmarshal([]byte(e.Spec), &out.Spec); err != nil {
			return Entity{}, fmt.Errorf("entity %s: spec: %w", e.Ref, err)
		}
		if out.Spec == nil { // "null"
			out.Spec = map[string]any{}
		}
	}
	return out, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Input is everything one entity's rules may read.
type Input struct {
	Entity  Entity
	Facts   yardstick.Facts    // facts[source][name], decoded JSON
	Metrics map[string]float64 // absent metrics make the checks that read them unknown
	Now     time.Time
}

// Activation binds an Input's variables for evaluation. Build one per entity
// and evaluate every rule against it: the conversion to CEL values happens
// once. An Activation is read-only and safe for concurrent use.
type Activation struct {
	entity, facts, metrics, now ref.Val
}

var _ interpreter.Activation = (*Activation)(nil)

// Activation converts in to CEL values.
func (e *Env) Activation(in Input) *Activation {
	adapter := e.cel.CELTypeAdapter()
	facts := make(map[string]ref.Val, len(in.Facts))
	for source, byName := range in.Facts {
		m := make(map[string]ref.Val, len(byName))
		for name, v := range byName {
			if v == nil { // a JSON null says nothing: the fact is missing
				continue
			}
			m[name] = jsonToVal(adapter, v)
		}
		facts[source] = types.NewMap(adapter, m)
	}
	metrics := in.Metrics
	if metrics == nil {
		metrics = map[string]float64{}
	}
	ent := in.Entity
	return &Activation{
		entity:  adapter.NativeToValue(&ent),
		facts:   types.NewMap(adapter, facts),
		metrics: adapter.NativeToValue(metrics),
		now:     types.Timestamp{Time: in.Now.UTC()},
	}
}

// jsonToVal converts decoded JSON to CEL values once, so that evaluations
// read them without converting again on every access.
func jsonToVal(adapter types.Adapter, v any) ref.Val {
	switch x := v.(type) {
	case nil:
		return types.NullValue
	case bool:
		return types.Bool(x)
	case float64:
		return types.Double(x)
	case string:
		return types.String(x)
	case map[string]any:
		m := make(map[string]ref.Val, len(x))
		for k, el := range x {
			m[k] = jsonToVal(adapter, el)
		}
		return types.NewMap(adapter, m)
	case []any:
		l := make([]ref.Val, len(x))
		for i, el := range x {
			l[i] = jsonToVal(adapter, el)
		}
		return types.NewRefValList(adapter, l)
	}
	return adapter.NativeToValue(v)
}

// ResolveName implements interpreter.Activation.
func (a *Activation) ResolveName(name string) (any, bool) {
	switch name {
	case VarEntity:
		return a.entity, true
	case VarFacts:
		return a.facts, true
	case VarMetrics:
		return a.metrics, true
	case VarNow:
		return a.now, true
	}
	return nil, false
}

// lookup follows fields from a root variable through nested maps, as a CEL
// selection would, without evaluating anything.
func (a *Activation) lookup(root string, keys []ref.Val) (ref.Val, bool) {
	v, ok := a.ResolveName(root)
	if !ok {
		return nil, false
	}
	cur := v.(ref.Val)
	for _, k := range keys {
		m, isMap := cur.(traits.Mapper)
		if !isMap {
			return nil, false
		}
		if cur, ok = m.Find(k); !ok {
			return nil, false
		}
	}
	return cur, true
}

// Parent implements interpreter.Activation.
func (a *Activation) Parent() interpreter.Activation { return nil }
