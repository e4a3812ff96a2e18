package catalog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseDocuments feeds catalog files to the YAML document parser and the
// relation resolver. Seeds: the Backstage example catalogs of
// testdata/backstage, in testdata/fuzz/FuzzParseDocuments. It must never
// panic, and every error must be a ParseError that names the file.
func FuzzParseDocuments(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, _, errs := parseDocuments(bytes.NewReader(data), "fuzz.yaml")
		for _, err := range errs {
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(pe.Location, "fuzz.yaml") {
				t.Errorf("parseDocuments() error %v does not name the file", err)
			}
		}
		for _, d := range docs {
			if d.entity.Ref == "" && d.location == "" {
				t.Errorf("parseDocuments() gave a document without entity ref: %+v", d)
			}
		}
	})
}
