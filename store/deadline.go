package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// Default deadlines of one ClickHouse call (config keys clickhouse.read_timeout
// and clickhouse.write_timeout).
const (
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = 60 * time.Second
)

// deadlineConn gives every call on the driver a deadline: reads (Query,
// QueryRow, Select, Ping) the read timeout, writes (Exec, batches) the write
// timeout, or the caller's earlier deadline. clickhouse-go turns the context's
// deadline into socket deadlines, so a stopped or unreachable server ends the
// call with an error instead of a hang. Errors that mean "the server cannot
// answer now" wrap yardstick.ErrUnavailable.
//
// Batches are not tied to any cancellation: clickhouse-go's batch watchdog
// closes the connection when the batch's context is done, and a context that
// ends just as Send returns (a request that finished, or a timeout cancelled
// right after Send) can close a connection that is already back in the pool:
// the "use of closed network connection" errors of other requests. A batch
// runs on a context that carries the write deadline (clickhouse-go sets it on
// the socket for the server's answers) but is never done.
type deadlineConn struct {
	driver.Conn // forwards every method not overridden (the driver's advice for decorators)
	read, write time.Duration
	where       string
}

// longCalls marks a context whose calls may take up to the given duration,
// read or write: the queries of a metric refresh, whose time grows with the
// whole history (withCallTimeout).
type longCalls struct{}

// withCallTimeout gives every ClickHouse call made with ctx the deadline d
// instead of the connection's read and write timeouts.
func withCallTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, longCalls{}, d)
}

// timeout is a call's deadline: the connection's (def), or the longer one
// withCallTimeout set on ctx.
func timeout(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Value(longCalls{}).(time.Duration); ok && d > 0 {
		return d
	}
	return def
}

func (c *deadlineConn) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, timeout(ctx, c.read))
}

func (c *deadlineConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	ctx, cancel := c.readCtx(ctx)
	defer cancel()
	return c.mapErr(ctx, c.Conn.Select(ctx, dest, query, args...))
}

func (c *deadlineConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	ctx, cancel := c.readCtx(ctx)
	rows, err := c.Conn.Query(ctx, query, args...)
	if err != nil {
		err = c.mapErr(ctx, err)
		cancel()
		return nil, err
	}
	return &deadlineRows{Rows: rows, c: c, ctx: ctx, cancel: cancel}, nil
}

func (c *deadlineConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	ctx, cancel := c.readCtx(ctx)
	return &deadlineRow{Row: c.Conn.QueryRow(ctx, query, args...), c: c, ctx: ctx, cancel: cancel}
}

func (c *deadlineConn) Exec(ctx context.Context, query string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout(ctx, c.write))
	defer cancel()
	return c.mapErr(ctx, c.Conn.Exec(ctx, query, args...))
}

func (c *deadlineConn) Ping(ctx context.Context) error {
	ctx, cancel := c.readCtx(ctx)
	defer cancel()
	return c.mapErr(ctx, c.Conn.Ping(ctx))
}

func (c *deadlineConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	bctx := deadlineOnly{Context: context.WithoutCancel(ctx), deadline: time.Now().Add(timeout(ctx, c.write))}
	if d, ok := ctx.Deadline(); ok && d.Before(bctx.deadline) {
		bctx.deadline = d
	}
	b, err := c.Conn.PrepareBatch(bctx, query, opts...)
	if err != nil {
		return nil, c.mapErr(bctx, err)
	}
	return &deadlineBatch{Batch: b, c: c, ctx: bctx}, nil
}

// deadlineOnly is a context with a deadline that is never done (see
// deadlineConn): the deadline bounds the socket, not a watchdog.
type deadlineOnly struct {
	context.Context
	deadline time.Time
}

func (d deadlineOnly) Deadline() (time.Time, bool) { return d.deadline, true }

// mapErr marks errors that mean "ClickHouse cannot answer now" with
// yardstick.ErrUnavailable. ctx is the call's own context.
func (c *deadlineConn) mapErr(ctx context.Context, err error) error {
	if err == nil || !unavailable(ctx, err) {
		return err
	}
	return fmt.Errorf("clickhouse at %s: %w: %w", c.where, yardstick.ErrUnavailable, err)
}

// unavailable reports whether err is a transport fault or a deadline rather
// than an answer of the server (a syntax error, a missing table) or the
// caller's own cancellation.
func unavailable(ctx context.Context, err error) bool {
	if errors.Is(err, yardstick.ErrUnavailable) {
		return false // already marked
	}
	if errors.Is(err, context.Canceled) && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return false // the caller gave up: not the server's fault
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 159, 202, 209, 210: // TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES, SOCKET_TIMEOUT, NETWORK_ERROR
			return true
		}
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(ctx.Err(), context.DeadlineExceeded):
		return true
	case errors.As(err, &ne), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.Is(err, clickhouse.ErrAcquireConnTimeout):
		return true
	}
	return false
}

// deadlineRows keeps the query's deadline until the rows are closed.
type deadlineRows struct {
	driver.Rows
	c      *deadlineConn
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *deadlineRows) Err() error { return r.c.mapErr(r.ctx, r.Rows.Err()) }

func (r *deadlineRows) Close() error {
	err := r.Rows.Close()
	r.cancel()
	return r.c.mapErr(r.ctx, err)
}

// deadlineRow keeps the query's deadline until the row is scanned.
type deadlineRow struct {
	driver.Row
	c      *deadlineConn
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *deadlineRow) Err() error { return r.c.mapErr(r.ctx, r.Row.Err()) }

func (r *deadlineRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.c.mapErr(r.ctx, r.Row.Scan(dest...))
}

func (r *deadlineRow) ScanStruct(dest any) error {
	defer r.cancel()
	return r.c.mapErr(r.ctx, r.Row.ScanStruct(dest))
}

// deadlineBatch maps the batch's errors.
type deadlineBatch struct {
	driver.Batch
	c   *deadlineConn
	ctx context.Context
}

func (b *deadlineBatch) Send() error  { return b.c.mapErr(b.ctx, b.Batch.Send()) }
func (b *deadlineBatch) Flush() error { return b.c.mapErr(b.ctx, b.Batch.Flush()) }
