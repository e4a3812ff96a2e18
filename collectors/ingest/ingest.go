// Package ingest reads events as JSON lines, so CI/CD systems without a
// collector can push the same vocabulary the collectors write. It backs
// `yardstick ingest` and the ingest benchmark.
package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// Line is one event as written in a JSON-lines file. Exactly one of Scope and
// Entity names where the event belongs.
type Line struct {
	Source  string             `json:"source"` // default "ingest"
	Type    string             `json:"type"`   // "deployment.succeeded"
	Scope   string             `json:"scope"`  // "github:acme/api"
	Entity  string             `json:"entity"` // or an entity ref: "component:default/api"
	ID      string             `json:"id"`     // unique within source, type and scope
	Time    time.Time          `json:"time"`   // RFC 3339
	Actor   string             `json:"actor"`
	Num     map[string]float64 `json:"num"`
	Str     map[string]string  `json:"str"`
	Related []string           `json:"related"`
}

// Writer stores events; store.DB satisfies it.
type Writer interface {
	WriteEvents(ctx context.Context, events []yardstick.Event) error
}

// LineError is a line that could not be read, with its 1-based number.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap makes a LineError an ErrInvalid.
func (e *LineError) Unwrap() error { return yardstick.ErrInvalid }

// Stats is what one ingest did.
type Stats struct {
	Lines   int
	Events  int
	Invalid int
	Errors  []error // the first MaxErrors line errors, each with its line number
}

// Options tunes an ingest. Zero values pick sensible defaults.
type Options struct {
	BatchSize int // events per insert; default 100,000
	Workers   int // JSON decoders; default GOMAXPROCS
	MaxErrors int // line errors kept in Stats; default 100
}

var typeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)

type chunk struct {
	first int // line number of lines[0]
	lines [][]byte
}

type decoded struct {
	events []yardstick.Event
	errs   []error
	lines  int
}

// Read decodes and stores every line of r. Good lines are stored even when
// others are bad; the returned error joins the line errors (nil when all were
// good) and any write error, which stops the ingest.
func Read(ctx context.Context, r io.Reader, w Writer, opt Options) (Stats, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 100_000
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.MaxErrors <= 0 {
		opt.MaxErrors = 100
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	chunks := make(chan chunk, opt.Workers*2)
	results := make(chan decoded, opt.Workers*2)
	var readErr error
	go func() {
		defer close(chunks)
		readErr = split(ctx, r, chunks)
	}()
	var wg sync.WaitGroup
	for range opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				select {
				case results <- decodeChunk(c):
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var st Stats
	var lineErrs []error
	batch := make([]yardstick.Event, 0, opt.BatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.WriteEvents(ctx, batch); err != nil {
			return err
		}
		st.Events += len(batch)
		batch = batch[:0]
		return nil
	}
	var writeErr error
	for d := range results {
		if writeErr != nil {
			continue // drain so the workers can finish
		}
		st.Lines += d.lines
		st.Invalid += len(d.errs)
		for _, e := range d.errs {
			if len(lineErrs) < opt.MaxErrors {
				lineErrs = append(lineErrs, e)
			}
		}
		for _, e := range d.events {
			batch = append(batch, e)
			if len(batch) == opt.BatchSize {
				if writeErr = flush(); writeErr != nil {
					cancel()
					break
				}
			}
		}
	}
	if writeErr == nil {
		writeErr = flush()
	}
	st.Errors = lineErrs
	if writeErr != nil {
		return st, fmt.Errorf("store events: %w", writeErr)
	}
	if readErr != nil {
		return st, fmt.Errorf("read events: %w", readErr)
	}
	if st.Invalid > 0 {
		return st, fmt.Errorf("%d of %d lines invalid: %w", st.Invalid, st.Lines, errors.Join(lineErrs...))
	}
	return st, nil
}

// split cuts r into chunks of lines, copying each line so chunks outlive the scanner buffer.
func split(ctx context.Context, r io.Reader, out chan<- chunk) error {
	const perChunk = 4096
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	c := chunk{first: 1, lines: make([][]byte, 0, perChunk)}
	n := 0
	send := func() bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for sc.Scan() {
		n++
		c.lines = append(c.lines, append([]byte(nil), sc.Bytes()...))
		if len(c.lines) == perChunk {
			if !send() {
				return ctx.Err()
			}
			c = chunk{first: n + 1, lines: make([][]byte, 0, perChunk)}
		}
	}
	if len(c.lines) > 0 && !send() {
		return ctx.Err()
	}
	return sc.Err()
}

func decodeChunk(c chunk) decoded {
	d := decoded{events: make([]yardstick.Event, 0, len(c.lines)), lines: len(c.lines)}
	for i, raw := range c.lines {
		if len(strings.TrimSpace(string(raw))) == 0 {
			d.lines--
			continue
		}
		e, err := ParseLine(raw)
		if err != nil {
			d.errs = append(d.errs, &LineError{Line: c.first + i, Msg: err.Error()})
			continue
		}
		d.events = append(d.events, e)
	}
	return d
}

// ParseLine decodes and validates one JSON line.
func ParseLine(raw []byte) (yardstick.Event, error) {
	var l Line
	if err := json.Unmarshal(raw, &l); err != nil {
		return yardstick.Event{}, fmt.Errorf("not a JSON event: %v", err)
	}
	return l.Event()
}

// Event validates the line and returns it as a domain event.
func (l Line) Event() (yardstick.Event, error) {
	if l.Source == "" {
		l.Source = "ingest"
	}
	scope := yardstick.Scope(l.Scope)
	switch {
	case !typeRE.MatchString(l.Type):
		return yardstick.Event{}, fmt.Errorf("type %q: want subject.predicate, e.g. deployment.succeeded", l.Type)
	case l.ID == "":
		return yardstick.Event{}, errors.New("missing id")
	case l.Time.IsZero():
		return yardstick.Event{}, errors.New("missing time (RFC 3339, e.g. 2026-01-02T15:04:05Z)")
	case l.Scope != "" && l.Entity != "":
		return yardstick.Event{}, errors.New("give scope or entity, not both")
	case l.Entity != "":
		ref, err := yardstick.ParseEntityRef(l.Entity, "component")
		if err != nil {
			return yardstick.Event{}, err
		}
		scope = yardstick.EntityScope(ref)
	case l.Scope == "":
		return yardstick.Event{}, errors.New("missing scope (e.g. github:acme/api) or entity (e.g. component:default/api)")
	}
	return yardstick.Event{
		Source: l.Source, Type: l.Type, Scope: scope, ID: l.ID, Time: l.Time.UTC(), Actor: l.Actor,
		Num: l.Num, Str: l.Str, Related: l.Related,
	}, nil
}
