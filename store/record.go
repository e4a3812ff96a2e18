package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The statement recorder proves the store's SQL on other ClickHouse versions:
// with RecordStatementsEnv naming a folder, every connection the store opens
// writes each distinct statement it sends (query, exec, batch insert, and the
// migrations' DDL) to FOLDER/statements-PID.jsonl, with the bound parameters
// as typed sample values. `make test` sets it for `go test` and then runs the
// recorded statements on current ClickHouse (store/chcheck). It is off unless
// the variable is set.

// RecordStatementsEnv names the environment variable that turns recording on.
const RecordStatementsEnv = "YARDSTICK_RECORD_STATEMENTS"

// maxSampleItems bounds the items of a recorded set or array, and
// maxSampleString a recorded string: samples show the shape, not the data.
const (
	maxSampleItems  = 20
	maxSampleString = 2048
)

// recordedParam is one bound value, typed so that a reader in another
// language can render it as the driver does (see store/chcheck).
type recordedParam struct {
	Name  string          `json:"name,omitempty"`
	Kind  string          `json:"kind"` // string, int, uint, float, bool, time, set, array, null
	Value string          `json:"value,omitempty"`
	Items []recordedParam `json:"items,omitempty"`
}

type recordedExternal struct {
	Name      string `json:"name"`
	Structure string `json:"structure"`
}

// recordedStatement is one line of a recording.
type recordedStatement struct {
	Op       string             `json:"op"` // query, exec, batch
	SQL      string             `json:"sql"`
	Params   []recordedParam    `json:"params,omitempty"`
	Row      []recordedParam    `json:"row,omitempty"`      // batch: a sample row
	Schema   string             `json:"schema,omitempty"`   // migration statements: their order
	External []recordedExternal `json:"external,omitempty"` // temporary tables sent along
	Caller   string             `json:"caller,omitempty"`   // the store function that sent it
}

type statementRecorder struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}

var (
	recordersMu sync.Mutex
	recorders   = map[string]*statementRecorder{}
)

// recorderFor returns the process's recorder writing under dir.
func recorderFor(dir string) (*statementRecorder, error) {
	recordersMu.Lock()
	defer recordersMu.Unlock()
	if r := recorders[dir]; r != nil {
		return r, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("statement recording (%s): %w", RecordStatementsEnv, err)
	}
	path := filepath.Join(dir, fmt.Sprintf("statements-%d.jsonl", os.Getpid()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("statement recording (%s): %w", RecordStatementsEnv, err)
	}
	r := &statementRecorder{f: f, seen: map[string]bool{}}
	recorders[dir] = r
	return r, nil
}

// recordingConnFromEnv wraps conn in a recorder when RecordStatementsEnv is set.
func recordingConnFromEnv(conn driver.Conn) (driver.Conn, error) {
	dir := os.Getenv(RecordStatementsEnv)
	if dir == "" {
		return conn, nil
	}
	r, err := recorderFor(dir)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: conn, rec: r}, nil
}

type recordCtxKey int

const (
	schemaKey recordCtxKey = iota
	externalKey
	adhocKey
)

// withSchemaStep marks statements sent with ctx as step of the schema, in the
// order the recorder's reader must replay them.
func withSchemaStep(ctx context.Context, step string) context.Context {
	return context.WithValue(ctx, schemaKey, step)
}

// withAdhoc marks statements that are not the store's own (a user's query).
func withAdhoc(ctx context.Context) context.Context {
	return context.WithValue(ctx, adhocKey, true)
}

// withExternalTables sends tables along with the queries of ctx, and tells
// the recorder their structure.
func withExternalTables(ctx context.Context, tables ...*ext.Table) context.Context {
	var info []recordedExternal
	if prev, ok := ctx.Value(externalKey).([]recordedExternal); ok {
		info = append(info, prev...)
	}
	for _, t := range tables {
		info = append(info, recordedExternal{Name: t.Name(), Structure: t.Structure()})
	}
	ctx = context.WithValue(ctx, externalKey, info)
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(tables...))
}

// record writes st unless a statement of the same shape was written before.
func (r *statementRecorder) record(ctx context.Context, st recordedStatement) {
	if ctx.Value(adhocKey) != nil {
		return
	}
	st.SQL = normalizeSQL(st.SQL)
	if skipRecording(st.SQL) {
		return
	}
	if s, ok := ctx.Value(schemaKey).(string); ok {
		st.Schema = s
	}
	if e, ok := ctx.Value(externalKey).([]recordedExternal); ok {
		st.External = e
	}
	st.Caller = storeCaller()
	var shape strings.Builder
	shape.WriteString(st.Op + "\x00" + st.SQL + "\x00" + st.Schema)
	for _, p := range st.Params {
		shape.WriteString("\x00" + p.Name + ":" + p.Kind)
	}
	if st.Row != nil {
		shape.WriteString("\x00row")
	}
	key := shape.String()
	line, err := json.Marshal(st)
	if err != nil {
		return // recordedStatement holds only strings: cannot happen
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	// One write per line on an O_APPEND file: lines of processes that share
	// the folder never interleave.
	_, _ = r.f.Write(append(line, '\n'))
}

// skipRecording leaves out creating and dropping whole databases: the
// reader replays into a database of its own.
func skipRecording(sql string) bool {
	u := strings.ToUpper(sql)
	return strings.HasPrefix(u, "CREATE DATABASE ") || strings.HasPrefix(u, "DROP DATABASE ")
}

// storeCaller names the first function of package store on the stack that
// is neither the recorder, the deadline wrapper, a write helper, the row
// reader (rows.go) nor a generic helper: the method that sent the statement.
// It is empty for statements a test sent itself.
func storeCaller() string {
	pcs := make([]uintptr, 24)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		name := f.Function[strings.LastIndex(f.Function, "/")+1:]
		if strings.HasPrefix(name, "store.") && !strings.HasSuffix(f.File, "/record.go") && !strings.HasSuffix(f.File, "/deadline.go") && !strings.HasSuffix(f.File, "/rows.go") && !strings.Contains(name, "[...]") && !writeHelpers[name] {
			return strings.TrimPrefix(name, "store.")
		}
		if !more {
			return ""
		}
	}
}

var writeHelpers = map[string]bool{
	"store.(*DB).insert": true, "store.(*DB).insertChunks": true, "store.(*DB).writeEvents": true,
	"store.(*DB).insertChunks.func1": true,
}

// normalizeSQL collapses whitespace and drops line comments outside quotes,
// so one statement built with different indentation records once.
func normalizeSQL(sql string) string {
	var b strings.Builder
	var quote byte
	space := false
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		if quote == 0 && c == '-' && i+1 < len(sql) && sql[i+1] == '-' {
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			space = true
			continue
		}
		if quote != 0 {
			b.WriteByte(c)
			switch {
			case c == '\\' && i+1 < len(sql):
				i++
				b.WriteByte(sql[i])
			case c == quote:
				quote = 0
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			space = true
			continue
		case '\'', '"', '`':
			quote = c
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// recordParams encodes the arguments of a query or exec.
func recordParams(args []any) []recordedParam {
	out := make([]recordedParam, 0, len(args))
	for _, a := range args {
		switch v := a.(type) {
		case driver.NamedValue:
			p := recordValue(v.Value)
			p.Name = v.Name
			out = append(out, p)
		case driver.NamedDateValue:
			p := recordValue(v.Value)
			p.Name = v.Name
			out = append(out, p)
		default:
			out = append(out, recordValue(a))
		}
	}
	return out
}

func recordValue(v any) recordedParam {
	switch x := v.(type) {
	case nil:
		return recordedParam{Kind: "null"}
	case time.Time:
		return recordedParam{Kind: "time", Value: x.UTC().Format("2006-01-02 15:04:05")}
	case clickhouse.GroupSet:
		return recordedParam{Kind: "set", Items: recordItems(reflect.ValueOf(x.Value))}
	case []byte:
		return recordString(string(x))
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return recordedParam{Kind: "null"}
		}
		return recordValue(rv.Elem().Interface())
	case reflect.String:
		return recordString(rv.String())
	case reflect.Bool:
		if rv.Bool() {
			return recordedParam{Kind: "bool", Value: "1"}
		}
		return recordedParam{Kind: "bool", Value: "0"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return recordedParam{Kind: "int", Value: strconv.FormatInt(rv.Int(), 10)}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return recordedParam{Kind: "uint", Value: strconv.FormatUint(rv.Uint(), 10)}
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		switch {
		case math.IsNaN(f):
			return recordedParam{Kind: "float", Value: "nan"}
		case math.IsInf(f, 1):
			return recordedParam{Kind: "float", Value: "inf"}
		case math.IsInf(f, -1):
			return recordedParam{Kind: "float", Value: "-inf"}
		}
		return recordedParam{Kind: "float", Value: strconv.FormatFloat(f, 'g', -1, 64)}
	case reflect.Slice, reflect.Array:
		return recordedParam{Kind: "array", Items: recordItems(rv)}
	}
	// Anything else fails the check loudly rather than being guessed at.
	return recordedParam{Kind: "unsupported", Value: fmt.Sprintf("%T", v)}
}

func recordString(s string) recordedParam {
	if len(s) > maxSampleString {
		s = strings.ToValidUTF8(s[:maxSampleString], "")
	}
	return recordedParam{Kind: "string", Value: s}
}

func recordItems(rv reflect.Value) []recordedParam {
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return []recordedParam{recordValue(rv.Interface())}
	}
	n := min(rv.Len(), maxSampleItems)
	out := make([]recordedParam, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, recordValue(rv.Index(i).Interface()))
	}
	return out
}

// recordingConn records what goes through it, then forwards.
type recordingConn struct {
	driver.Conn
	rec *statementRecorder
}

func (c *recordingConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	c.rec.record(ctx, recordedStatement{Op: "query", SQL: query, Params: recordParams(args)})
	return c.Conn.Query(ctx, query, args...)
}

func (c *recordingConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	c.rec.record(ctx, recordedStatement{Op: "query", SQL: query, Params: recordParams(args)})
	return c.Conn.QueryRow(ctx, query, args...)
}

func (c *recordingConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	c.rec.record(ctx, recordedStatement{Op: "query", SQL: query, Params: recordParams(args)})
	return c.Conn.Select(ctx, dest, query, args...)
}

func (c *recordingConn) Exec(ctx context.Context, query string, args ...any) error {
	c.rec.record(ctx, recordedStatement{Op: "exec", SQL: query, Params: recordParams(args)})
	return c.Conn.Exec(ctx, query, args...)
}

func (c *recordingConn) AsyncInsert(ctx context.Context, query string, wait bool, args ...any) error {
	c.rec.record(ctx, recordedStatement{Op: "exec", SQL: query, Params: recordParams(args)})
	return c.Conn.AsyncInsert(ctx, query, wait, args...) //nolint:staticcheck // forwarded as is
}

func (c *recordingConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	b, err := c.Conn.PrepareBatch(ctx, query, opts...)
	if err != nil {
		c.rec.record(ctx, recordedStatement{Op: "batch", SQL: query})
		return nil, err
	}
	return &recordingBatch{Batch: b, ctx: ctx, rec: c.rec, query: query, row: map[int]recordedParam{}}, nil
}

// recordingBatch keeps the first value of each column as the sample row and
// records the statement when the batch is first sent, flushed or dropped.
type recordingBatch struct {
	driver.Batch
	ctx   context.Context
	rec   *statementRecorder
	query string
	row   map[int]recordedParam
	once  sync.Once
}

func (b *recordingBatch) done() {
	b.once.Do(func() {
		st := recordedStatement{Op: "batch", SQL: b.query}
		n := len(b.Batch.Columns())
		if n > 0 && len(b.row) == n {
			for i := 0; i < n; i++ {
				st.Row = append(st.Row, b.row[i])
			}
		}
		b.rec.record(b.ctx, st)
	})
}

func (b *recordingBatch) Append(v ...any) error {
	if len(b.row) == 0 {
		for i, x := range v {
			b.row[i] = recordValue(x)
		}
	}
	return b.Batch.Append(v...)
}

func (b *recordingBatch) Column(i int) driver.BatchColumn {
	return &recordingColumn{BatchColumn: b.Batch.Column(i), b: b, i: i}
}

func (b *recordingBatch) Flush() error { b.done(); return b.Batch.Flush() }
func (b *recordingBatch) Send() error  { b.done(); return b.Batch.Send() }
func (b *recordingBatch) Abort() error { b.done(); return b.Batch.Abort() }
func (b *recordingBatch) Close() error { b.done(); return b.Batch.Close() }

type recordingColumn struct {
	driver.BatchColumn
	b *recordingBatch
	i int
}

// Append takes a whole column (a slice): its first element is the sample.
func (c *recordingColumn) Append(v any) error {
	if _, ok := c.b.row[c.i]; !ok {
		if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) && rv.Len() > 0 {
			c.b.row[c.i] = recordValue(rv.Index(0).Interface())
		}
	}
	return c.BatchColumn.Append(v)
}

func (c *recordingColumn) AppendRow(v any) error {
	if _, ok := c.b.row[c.i]; !ok {
		c.b.row[c.i] = recordValue(v)
	}
	return c.BatchColumn.AppendRow(v)
}
