package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/fixtures"
)

// memStream is an in-memory Stream that keeps what was committed.
type memStream struct {
	mu        *sync.Mutex
	committed *[]yardstick.Event
	pending   []yardstick.Event
	failAt    int // fail the Write that would pass this many events in total; 0 never
	written   *int
}

func (s *memStream) Write(es []yardstick.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && *s.written+len(es) > s.failAt {
		return errors.New("server went away")
	}
	*s.written += len(es)
	s.pending = append(s.pending, es...)
	return nil
}

func (s *memStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.committed = append(*s.committed, s.pending...)
	return nil
}

func (s *memStream) Abort() {}

func memOpener(failAt int) (OpenStream, *[]yardstick.Event) {
	var (
		mu        sync.Mutex
		committed []yardstick.Event
		written   int
	)
	return func(context.Context) (Stream, error) {
		return &memStream{mu: &mu, committed: &committed, failAt: failAt, written: &written}, nil
	}, &committed
}

func TestReadReportsBadLinesAndKeepsGoodOnes(t *testing.T) {
	input := strings.Join([]string{
		`{"type":"deployment.succeeded","scope":"github:acme/api","id":"d1","time":"2026-10-01T12:00:00Z","str":{"environment":"production"},"related":["abc"]}`,
		`{"type":"deployment.succeeded","scope":"github:acme/api","id":"d2"`,
		``,
		`{"type":"Deploy","scope":"github:acme/api","id":"d3","time":"2026-10-01T12:00:00Z"}`,
		`{"type":"pipeline.finished","entity":"api","id":"r1","time":"2026-10-01T13:00:00+02:00","num":{"duration_seconds":61.5}}`,
		`{"type":"pipeline.finished","scope":"github:acme/api","id":"r2","time":"yesterday"}`,
		`{"type":"pipeline.finished","scope":"github:acme/api","id":"r3","time":"2026-10-01T13:00:00Z","num":{"duration_seconds":"slow"}}`,
	}, "\n")
	open, got := memOpener(0)
	st, err := Read(context.Background(), strings.NewReader(input), open, Options{})
	if err == nil {
		t.Fatal("Read() = nil error, want the bad lines reported")
	}
	for _, want := range []string{"line 2: not a JSON event", `line 4: type "Deploy"`, "line 6: time", "line 7: num.duration_seconds: want a number"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Read() error lacks %q:\n%v", want, err)
		}
	}
	if st.Lines != 6 || st.Invalid != 4 || st.Events != 2 || len(*got) != 2 {
		t.Fatalf("Read() = %+v with %d stored, want 6 lines, 4 invalid, 2 stored", st, len(*got))
	}
	byID := map[string]yardstick.Event{}
	for _, e := range *got {
		byID[e.ID] = e
	}
	d1, r1 := byID["d1"], byID["r1"]
	if d1.Source != "ingest" || d1.Str["environment"] != "production" || len(d1.Related) != 1 {
		t.Errorf("d1 = %+v", d1)
	}
	if r1.Scope != "entity:component:default/api" || r1.Num["duration_seconds"] != 61.5 || !r1.Time.Equal(time.Date(2026, 10, 1, 11, 0, 0, 0, time.UTC)) || r1.Time.Location() != time.UTC {
		t.Errorf("r1 = %+v", r1)
	}
}

func TestReadLargeFileInManyBlocks(t *testing.T) {
	org := fixtures.Generate(fixtures.GenConfig{Components: 20, Days: 30, Seed: 3})
	var buf bytes.Buffer
	n, err := org.WriteEvents(&buf)
	if err != nil {
		t.Fatal(err)
	}
	open, got := memOpener(0)
	st, err := Read(context.Background(), &buf, open, Options{CommitEvery: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != n || len(*got) != n {
		t.Errorf("Read() stored %d (stats %d), want %d", len(*got), st.Events, n)
	}
}

func TestReadLinesAcrossBlocks(t *testing.T) {
	defer func(n int) { splitBlockSize = n }(splitBlockSize)
	splitBlockSize = 97 // far shorter than a line: every line spans blocks
	org := fixtures.Generate(fixtures.GenConfig{Components: 3, Days: 10, Seed: 3})
	var buf bytes.Buffer
	n, err := org.WriteEvents(&buf)
	if err != nil {
		t.Fatal(err)
	}
	buf.WriteString(`{"type":"x.y","scope":"s","id":"last","time":"2026-01-01T00:00:00Z"}`) // no final newline
	open, got := memOpener(0)
	st, err := Read(context.Background(), &buf, open, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != n+1 || len(*got) != n+1 {
		t.Errorf("Read() = %d lines, %d stored; want %d", st.Lines, len(*got), n+1)
	}
}

func TestReadStopsOnWriteError(t *testing.T) {
	org := fixtures.Generate(fixtures.GenConfig{Components: 10, Days: 30, Seed: 3})
	var buf bytes.Buffer
	if _, err := org.WriteEvents(&buf); err != nil {
		t.Fatal(err)
	}
	open, _ := memOpener(1000)
	_, err := Read(context.Background(), &buf, open, Options{Writers: 1})
	if err == nil || !strings.Contains(err.Error(), "server went away") {
		t.Errorf("Read() error = %v, want the write error", err)
	}
}

func TestValidType(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"deployment.succeeded", true}, {"ci_run.finished_2", true}, {"deployment", false}, {"a.b.c", false},
		{".b", false}, {"a.", false}, {"Deploy.ok", false}, {"2x.y", false}, {"x._y", false},
	} {
		if got := validType(tt.in); got != tt.want {
			t.Errorf("validType(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// BenchmarkParse measures JSON-line decoding alone, on two cores.
func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	n, err := fixtures.Generate(fixtures.GenConfig{Components: 200, Days: 90, Seed: 42}).WriteEvents(&buf)
	if err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		open, _ := memOpener(0)
		if _, err := Read(context.Background(), bytes.NewReader(data), open, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// mustRead reads input and returns what was stored by id and the joined line errors.
func mustRead(t *testing.T, r io.Reader) (Stats, map[string]yardstick.Event, string) {
	t.Helper()
	open, got := memOpener(0)
	st, err := Read(context.Background(), r, open, Options{})
	if err != nil && !errors.Is(err, yardstick.ErrInvalid) {
		t.Fatalf("Read() = %v, want only line errors", err)
	}
	byID := map[string]yardstick.Event{}
	for _, e := range *got {
		byID[e.ID] = e
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return st, byID, msg
}

func eventLine(id, at string) string {
	return `{"type":"deployment.succeeded","scope":"github:acme/api","id":"` + id + `","time":"` + at + `"}`
}

// TestIngestTimeOutOfRange: times the store's DateTime cannot hold are
// reported with their line number and skipped, never stored as other dates;
// the ends of the range are stored as they are.
func TestIngestTimeOutOfRange(t *testing.T) {
	input := strings.Join([]string{
		eventLine("y1900", "1900-01-01T00:00:00Z"),
		eventLine("y1969", "1969-12-31T23:59:59Z"),
		eventLine("first", "1970-01-01T00:00:00Z"),
		eventLine("last", "2105-12-31T23:59:59Z"),
		eventLine("y2106", "2106-01-01T00:00:00Z"),
		eventLine("y2200", "2200-06-01T00:00:00Z"),
		eventLine("year1", "0001-01-01T00:00:00Z"),
		eventLine("offset", "1970-01-01T00:30:00+01:00"), // 1969-12-31T23:30:00Z
	}, "\n")
	st, got, msg := mustRead(t, strings.NewReader(input))
	for _, n := range []string{"1", "2", "5", "6", "7", "8"} {
		if !strings.Contains(msg, "line "+n+": time") || !strings.Contains(msg, "outside 1970-01-01 .. 2105-12-31") {
			t.Errorf("Read() error does not report line %s as out of range:\n%s", n, msg)
		}
	}
	if st.Invalid != 6 || len(got) != 2 {
		t.Errorf("Read() = %+v with %d stored, want 6 invalid and 2 stored", st, len(got))
	}
	if !got["first"].Time.Equal(yardstick.EventTimeMin) || !got["last"].Time.Equal(yardstick.EventTimeMax) {
		t.Errorf("range ends stored as %v and %v", got["first"].Time, got["last"].Time)
	}
}

// repeatReader yields n copies of one byte without holding them.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

// TestIngestOversizedLineAmongGoodLines: a 40 MB and a 100 MB line are
// reported with their line numbers and skipped; every good line, before and
// after them, is stored.
func TestIngestOversizedLineAmongGoodLines(t *testing.T) {
	r := io.MultiReader(
		strings.NewReader(eventLine("a", "2026-01-01T00:00:00Z")+"\n"),
		&repeatReader{'x', 40 << 20}, strings.NewReader("\n"),
		strings.NewReader(eventLine("b", "2026-01-01T00:00:00Z")+"\n"),
		strings.NewReader(`{"type":"deployment.succeeded","scope":"github:acme/api","id":"huge","str":{"log":"`),
		&repeatReader{'y', 100 << 20}, strings.NewReader(`"}`+"\n"),
		strings.NewReader(eventLine("c", "2026-01-01T00:00:00Z")+"\n"),
		&repeatReader{'z', 40 << 20}, // last line, no newline
	)
	st, got, msg := mustRead(t, r)
	for _, n := range []string{"2", "4", "6"} {
		if !strings.Contains(msg, "line "+n+": longer than 16777216 bytes, skipped") {
			t.Errorf("Read() error does not report line %s as too long:\n%s", n, msg)
		}
	}
	if st.Lines != 6 || st.Invalid != 3 || len(got) != 3 || got["a"].ID == "" || got["b"].ID == "" || got["c"].ID == "" {
		t.Errorf("Read() = %+v, stored %v; want 6 lines, 3 invalid, a, b and c stored", st, got)
	}
}

// TestIngestLineLimitOnEveryLine: the limit holds for a line that lies whole
// inside one block, not only for one carried over from the block before, and
// a line of exactly the limit is read.
func TestIngestLineLimitOnEveryLine(t *testing.T) {
	defer func(b, l int) { splitBlockSize, MaxLineBytes = b, l }(splitBlockSize, MaxLineBytes)
	splitBlockSize, MaxLineBytes = 4096, 200
	pad := func(id string, n int) string { // a valid event line of n bytes
		l := eventLine(id, "2026-01-01T00:00:00Z")
		return l[:len(l)-1] + strings.Repeat(" ", n-len(l)) + "}"
	}
	input := strings.Join([]string{pad("at-limit", 200), pad("over", 300), pad("after", 150)}, "\n")
	st, got, msg := mustRead(t, strings.NewReader(input))
	if !strings.Contains(msg, "line 2: longer than 200 bytes") || st.Invalid != 1 || len(got) != 2 || got["at-limit"].ID == "" || got["after"].ID == "" {
		t.Errorf("Read() = %+v, stored %v, error %q; want line 2 too long and the others stored", st, got, msg)
	}
}

// TestIngestNonFiniteNumbers: NaN, infinities and numbers too large for a
// float64 are reported with their line number and the line skipped.
func TestIngestNonFiniteNumbers(t *testing.T) {
	lines := []string{eventLine("ok", "2026-01-01T00:00:00Z")}
	for i, v := range []string{"1e999", "-1e999", "NaN", "Infinity", "-Inf", "nan"} {
		lines = append(lines, `{"type":"pipeline.finished","scope":"github:acme/api","id":"n`+strconv.Itoa(i)+`","time":"2026-01-01T00:00:00Z","num":{"duration_seconds":`+v+`}}`)
	}
	st, got, msg := mustRead(t, strings.NewReader(strings.Join(lines, "\n")))
	for n := 2; n <= len(lines); n++ {
		if !strings.Contains(msg, "line "+strconv.Itoa(n)+": ") {
			t.Errorf("Read() error does not report line %d:\n%s", n, msg)
		}
	}
	if strings.Count(msg, "is not a finite number") != 5 { // "Infinity" is not JSON fastjson reads at all
		t.Errorf("Read() error does not say the numbers are not finite:\n%s", msg)
	}
	if st.Invalid != len(lines)-1 || len(got) != 1 || got["ok"].ID == "" {
		t.Errorf("Read() = %+v, stored %v; want only line 1 stored", st, got)
	}
	l := Line{Type: "pipeline.finished", Scope: "s", ID: "x", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Num: map[string]float64{"v": math.Inf(1)}}
	if _, err := l.Event(); err == nil || !strings.Contains(err.Error(), "num.v") {
		t.Errorf("Line.Event(+Inf) = %v, want an error naming num.v", err)
	}
}

// TestIngestBOMOnFirstLine: a file saved with a UTF-8 byte order mark reads
// its first line.
func TestIngestBOMOnFirstLine(t *testing.T) {
	input := "\xEF\xBB\xBF" + eventLine("first", "2026-01-01T00:00:00Z") + "\n" + eventLine("second", "2026-01-01T00:00:00Z") + "\n"
	st, got, msg := mustRead(t, strings.NewReader(input))
	if msg != "" || st.Invalid != 0 || len(got) != 2 {
		t.Errorf("Read(BOM) = %+v, stored %d, error %q; want both lines stored", st, len(got), msg)
	}
}
