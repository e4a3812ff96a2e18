package store

import (
	"context"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The row-reading loop of every read: run the query, call a function per
// row, close the rows and report the first error of the query, the function
// or the rows. Callers wrap the error once with what they were reading.

// A scanner is one row of a query's answer: the functions given to queryEach
// and queryRows read the current row and leave moving on and closing to them.
type scanner interface {
	Scan(dest ...any) error
}

// queryEach runs q with args (bound parameters only) and calls each for every
// row, closing the rows before it returns.
func (db *DB) queryEach(ctx context.Context, q string, args []any, each func(scanner) error) error {
	rows, err := db.conn.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	return eachRow(rows, each)
}

// eachRow calls each for every row of rows and closes them.
func eachRow(rows driver.Rows, each func(scanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryRows runs q with args and returns one value per row, read by scan, in
// the rows' order (nil when there are none).
func queryRows[T any](ctx context.Context, db *DB, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := db.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collectRows(rows, scan)
}

// collectRows reads every row of rows with scan and closes them.
func collectRows[T any](rows driver.Rows, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := eachRow(rows, func(row scanner) error {
		v, err := scan(row)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanOne reads a row of one column.
func scanOne[T any](row scanner) (T, error) {
	var v T
	err := row.Scan(&v)
	return v, err
}
