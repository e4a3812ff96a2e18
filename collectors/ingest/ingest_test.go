package ingest

import (
	"bytes"
	"context"
	"errors"
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
