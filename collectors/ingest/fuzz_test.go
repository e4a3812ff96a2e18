package ingest

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick"
)

// FuzzParseLine feeds single lines to the line parser. Seeds: lines of the
// generated demo organisation and the faults of the regression tests, in
// testdata/fuzz/FuzzParseLine. It must never panic, and every line it accepts
// must be storable: a valid type, an identity, a time in the store's range
// and finite numbers.
func FuzzParseLine(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := ParseLine(line)
		if err != nil {
			return
		}
		if !validType(e.Type) || e.ID == "" || e.Scope == "" || e.Source == "" {
			t.Errorf("ParseLine(%q) = %+v: accepted without identity", line, e)
		}
		if err := yardstick.CheckEventTime(e.Time); err != nil {
			t.Errorf("ParseLine(%q): %v", line, err)
		}
		for k, v := range e.Num {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("ParseLine(%q): num.%s = %v", line, k, v)
			}
		}
	})
}

// FuzzSplit reads arbitrary input in tiny blocks with a small line limit and
// checks Read against the plain reading of the same bytes: one line per
// newline, a leading BOM dropped, blank lines not counted, each line over the
// limit reported by its number, and each other line either stored or
// reported, never both, never lost.
func FuzzSplit(f *testing.F) {
	defer func(b, l int) { splitBlockSize, MaxLineBytes = b, l }(splitBlockSize, MaxLineBytes)
	splitBlockSize, MaxLineBytes = 7, 40
	f.Fuzz(func(t *testing.T, input []byte) {
		lines := strings.Split(string(bytes.TrimPrefix(input, bom)), "\n")
		if n := len(lines); n > 0 && lines[n-1] == "" {
			lines = lines[:n-1] // a final newline ends the last line
		}
		var nonBlank, long int
		for _, l := range lines {
			switch {
			case len(l) > MaxLineBytes:
				long++
				nonBlank++
			case strings.TrimSpace(l) != "":
				nonBlank++
			}
		}
		open, got := memOpener(0)
		st, _ := Read(context.Background(), bytes.NewReader(input), open, Options{Workers: 2, MaxErrors: 1 << 20})
		if st.Lines != nonBlank {
			t.Fatalf("Read() lines = %d, want %d", st.Lines, nonBlank)
		}
		if st.Invalid+len(*got) != nonBlank {
			t.Fatalf("Read() invalid %d + stored %d, want %d lines", st.Invalid, len(*got), nonBlank)
		}
		reportedLong := 0
		for _, e := range st.Errors {
			if strings.Contains(e.Error(), "longer than") {
				reportedLong++
			}
		}
		if reportedLong != long {
			t.Fatalf("Read() reported %d long lines, want %d", reportedLong, long)
		}
	})
}
