// Package ingest reads events as JSON lines, so CI/CD systems without a
// collector can push the same vocabulary the collectors write. It backs
// `yardstick ingest` and the ingest benchmark.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

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

// Stream is one long insert that takes events in pieces; store.EventStream
// satisfies it. Not used concurrently.
type Stream interface {
	// Write adds events to the insert; the stream sends a block whenever it
	// holds enough rows. The events may be reused once Write returns.
	Write(events []yardstick.Event) error
	Close() error // commits
	Abort()
}

// OpenStream opens a Stream (cmd passes store.DB.StreamEvents).
type OpenStream func(ctx context.Context) (Stream, error)

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
	Writers int // inserts in flight at once; default 2
	// CommitEvery ends an insert and starts the next after this many events;
	// default 1,000,000 (ClickHouse squashes the pieces of one insert into parts
	// of about that size).
	CommitEvery int
	Workers     int // JSON decoders; default GOMAXPROCS
	MaxErrors   int // line errors kept in Stats; default 100
}

// validType reports whether t is "subject.predicate": lower-case words of
// letters, digits and underscores, each starting with a letter. (A regular
// expression cost a tenth of the ingest time.)
func validType(t string) bool {
	dot := strings.IndexByte(t, '.')
	if dot <= 0 || dot == len(t)-1 || strings.Count(t, ".") != 1 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c == '.':
		case (c >= '0' && c <= '9' || c == '_') && i != 0 && i != dot+1:
		default:
			return false
		}
	}
	return true
}

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
func Read(ctx context.Context, r io.Reader, open OpenStream, opt Options) (Stats, error) {
	if opt.Writers <= 0 {
		opt.Writers = 2
	}
	if opt.CommitEvery <= 0 {
		opt.CommitEvery = 1_000_000
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
			p := newLineParser()
			for c := range chunks {
				select {
				case results <- decodeChunk(p, c):
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	// Writers: full batches go to a small pool, so decoding goes on while
	// ClickHouse takes a block, and two blocks can be in flight at once.
	var (
		st       Stats
		lineErrs []error
		mu       sync.Mutex
		writeErr error
		writers  sync.WaitGroup
	)
	batches := make(chan []yardstick.Event)
	for range opt.Writers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			var (
				stream  Stream
				pending int // rows written to stream, not yet committed
			)
			fail := func(err error) {
				mu.Lock()
				if writeErr == nil {
					writeErr = err
					cancel()
				}
				mu.Unlock()
			}
			commit := func() bool {
				if stream == nil {
					return true
				}
				err := stream.Close()
				stream = nil
				if err != nil {
					fail(err)
					return false
				}
				mu.Lock()
				st.Events += pending
				mu.Unlock()
				pending = 0
				return true
			}
			for b := range batches {
				if ctx.Err() != nil {
					continue
				}
				if stream == nil {
					s, err := open(ctx)
					if err != nil {
						fail(err)
						continue
					}
					stream = s
				}
				if err := stream.Write(b); err != nil {
					stream.Abort()
					stream = nil
					fail(err)
					continue
				}
				pending += len(b)
				// Commit now and then, so a long stream from stdin is stored as it goes.
				if pending >= opt.CommitEvery && !commit() {
					continue
				}
			}
			if ctx.Err() == nil {
				commit()
			} else if stream != nil {
				stream.Abort()
			}
		}()
	}
	// Decoded chunks go to the writers as they are: the stream gathers them
	// into blocks of BatchSize rows, so no event is copied on the way.
	for d := range results {
		st.Lines += d.lines
		st.Invalid += len(d.errs)
		for _, e := range d.errs {
			if len(lineErrs) < opt.MaxErrors {
				lineErrs = append(lineErrs, e)
			}
		}
		if ctx.Err() != nil || len(d.events) == 0 {
			continue // drain so the workers can finish
		}
		select {
		case batches <- d.events:
		case <-ctx.Done():
		}
	}
	close(batches)
	writers.Wait()
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

// splitBlockSize is how much input split reads at once; tests shrink it.
var splitBlockSize = 1 << 20

// MaxLineBytes is the longest line read; a longer one is reported with its
// line number and skipped, and the lines after it are read. Tests shrink it.
var MaxLineBytes = 16 << 20

// bom is the UTF-8 byte order mark some editors put at the start of a file.
var bom = []byte{0xEF, 0xBB, 0xBF}

// split cuts r into chunks of lines. Each chunk owns one block of the input
// and its lines are slices of it: one allocation per few thousand lines
// instead of one per line. A line longer than MaxLineBytes is dropped as it
// is read, so memory stays within two blocks of MaxLineBytes, and stands in
// its chunk as a nil line.
func split(ctx context.Context, r io.Reader, out chan<- chunk) error {
	var (
		carry    []byte // the unfinished last line of the previous block
		next     = 1    // number of the next line
		skipping bool   // inside a line longer than MaxLineBytes: drop it to its end
		eof      bool
	)
	for first := true; !eof; first = false {
		block := make([]byte, len(carry), max(splitBlockSize, 2*len(carry)))
		copy(block, carry)
		n, err := io.ReadFull(r, block[len(block):cap(block)])
		block = block[:len(block)+n]
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		case err != nil:
			return err
		}
		if first {
			block = bytes.TrimPrefix(block, bom)
		}
		c := chunk{first: next, lines: make([][]byte, 0, 4096)}
		rest := block
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			line := rest[:i:i]
			rest = rest[i+1:]
			if skipping || len(line) > MaxLineBytes {
				line, skipping = nil, false
			}
			c.lines = append(c.lines, line)
		}
		if len(rest) > MaxLineBytes {
			skipping = true
		}
		if skipping {
			rest = nil // what is read of the long line so far
			if eof {
				c.lines, skipping = append(c.lines, nil), false
			}
		}
		if eof && len(rest) > 0 {
			c.lines = append(c.lines, rest)
			rest = nil
		}
		carry = rest
		next += len(c.lines)
		if len(c.lines) == 0 {
			continue
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func decodeChunk(p *lineParser, c chunk) decoded {
	d := decoded{events: make([]yardstick.Event, 0, len(c.lines)), lines: len(c.lines)}
	for i, raw := range c.lines {
		if raw == nil {
			d.errs = append(d.errs, &LineError{Line: c.first + i, Msg: fmt.Sprintf("longer than %d bytes, skipped", MaxLineBytes)})
			continue
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			d.lines--
			continue
		}
		e, err := p.parse(raw)
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
	return newLineParser().parse(raw)
}

// lineParser decodes lines with fastjson, which parses several times faster
// than encoding/json's reflection; the ingest benchmark holds it to
// clickhouse-client's own JSON speed. Not safe for concurrent use: one per worker.
type lineParser struct {
	p          fastjson.Parser
	intern     map[string]string
	validTypes map[string]bool // types seen before; the same few repeat on every line
}

func newLineParser() *lineParser {
	return &lineParser{intern: make(map[string]string, 1024), validTypes: make(map[string]bool, 64)}
}

// str returns b as a string, sharing one copy of the values that repeat on
// every line (sources, types, scopes, attribute keys).
func (lp *lineParser) str(b []byte) string {
	if s, ok := lp.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(lp.intern) < 100_000 {
		lp.intern[s] = s
	}
	return s
}

func (lp *lineParser) parse(raw []byte) (yardstick.Event, error) {
	v, err := lp.p.ParseBytes(raw)
	if err != nil {
		return yardstick.Event{}, fmt.Errorf("not a JSON event: %v", err)
	}
	o, err := v.Object()
	if err != nil {
		return yardstick.Event{}, errors.New("not a JSON object")
	}
	var l Line
	var perr error
	o.Visit(func(key []byte, val *fastjson.Value) {
		if perr != nil {
			return
		}
		field := string(key)
		switch field {
		case "source", "type", "scope", "entity", "id", "actor", "time":
			b, err := val.StringBytes()
			if err != nil {
				perr = fmt.Errorf("%s: want a string", field)
				return
			}
			switch field {
			case "source":
				l.Source = lp.str(b)
			case "type":
				l.Type = lp.str(b)
			case "scope":
				l.Scope = lp.str(b)
			case "entity":
				l.Entity = lp.str(b)
			case "id":
				l.ID = string(b)
			case "actor":
				l.Actor = lp.str(b)
			case "time":
				t, err := time.Parse(time.RFC3339Nano, string(b))
				if err != nil {
					perr = fmt.Errorf("time %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", b)
					return
				}
				if yardstick.CheckEventTime(t) != nil {
					perr = fmt.Errorf("time %q: outside 1970-01-01 .. 2105-12-31, what the store holds", b)
					return
				}
				l.Time = t
			}
		case "num":
			obj, err := val.Object()
			if err != nil {
				perr = errors.New("num: want an object of numbers")
				return
			}
			l.Num = make(map[string]float64, obj.Len())
			obj.Visit(func(k []byte, x *fastjson.Value) {
				f, err := x.Float64()
				if err != nil && perr == nil {
					perr = fmt.Errorf("num.%s: want a number", k)
				}
				if (math.IsNaN(f) || math.IsInf(f, 0)) && perr == nil {
					perr = fmt.Errorf("num.%s: %s is not a finite number", k, x)
				}
				l.Num[lp.str(k)] = f
			})
		case "str":
			obj, err := val.Object()
			if err != nil {
				perr = errors.New("str: want an object of strings")
				return
			}
			l.Str = make(map[string]string, obj.Len())
			obj.Visit(func(k []byte, x *fastjson.Value) {
				b, err := x.StringBytes()
				if err != nil && perr == nil {
					perr = fmt.Errorf("str.%s: want a string", k)
				}
				v := ""
				if len(b) <= 16 { // environments, conclusions, branches, states repeat on every line
					v = lp.str(b)
				} else {
					v = string(b)
				}
				l.Str[lp.str(k)] = v
			})
		case "related":
			arr, err := val.Array()
			if err != nil {
				perr = errors.New("related: want an array of strings")
				return
			}
			l.Related = make([]string, 0, len(arr))
			for _, x := range arr {
				b, err := x.StringBytes()
				if err != nil {
					perr = errors.New("related: want an array of strings")
					return
				}
				l.Related = append(l.Related, string(b))
			}
		}
	})
	if perr != nil {
		return yardstick.Event{}, perr
	}
	ok, seen := lp.validTypes[l.Type]
	if !seen {
		ok = validType(l.Type)
		if len(lp.validTypes) < 10_000 {
			lp.validTypes[l.Type] = ok
		}
	}
	return l.event(ok)
}

// Event validates the line and returns it as a domain event.
func (l Line) Event() (yardstick.Event, error) { return l.event(validType(l.Type)) }

func (l Line) event(typeOK bool) (yardstick.Event, error) {
	if l.Source == "" {
		l.Source = "ingest"
	}
	scope := yardstick.Scope(l.Scope)
	switch {
	case !typeOK:
		return yardstick.Event{}, fmt.Errorf("type %q: want subject.predicate, e.g. deployment.succeeded", l.Type)
	case l.ID == "":
		return yardstick.Event{}, errors.New("missing id")
	case l.Time.IsZero():
		return yardstick.Event{}, errors.New("missing time (RFC 3339, e.g. 2026-01-02T15:04:05Z)")
	case yardstick.CheckEventTime(l.Time) != nil:
		return yardstick.Event{}, fmt.Errorf("time %s: outside 1970-01-01 .. 2105-12-31, what the store holds", l.Time.Format(time.RFC3339Nano))
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
	for k, v := range l.Num {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return yardstick.Event{}, fmt.Errorf("num.%s: %v is not a finite number", k, v)
		}
	}
	return yardstick.Event{
		Source: l.Source, Type: l.Type, Scope: scope, ID: l.ID, Time: l.Time.UTC(), Actor: l.Actor,
		Num: l.Num, Str: l.Str, Related: l.Related,
	}, nil
}
