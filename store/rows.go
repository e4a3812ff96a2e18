package store

import (
	"context"
	"fmt"
)

// The row-reading loop of every read: run the query, call a function per
// row, close the rows and report the first error of the query, the function
// or the rows.

// A scanner is one row of a query's answer: the functions given to queryEach
// and queryRows read the current row and leave moving on and closing to them.
type scanner interface {
	Scan(dest ...any) error
}

// queryEach runs q with args (bound parameters only) and calls each for every
// row, closing the rows before it returns. The caller wraps its errors.
func (db *DB) queryEach(ctx context.Context, q string, args []any, each func(scanner) error) error {
	rows, err := db.conn.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryRows runs q with args and returns one value per row, read by scan, in
// the rows' order (nil when there are none). Its errors begin with what,
// which names what was read ("read score summaries").
func queryRows[T any](ctx context.Context, db *DB, what, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := db.queryEach(ctx, q, args, func(row scanner) error {
		v, err := scan(row)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// scanOne reads a row of one column.
func scanOne[T any](row scanner) (T, error) {
	var v T
	err := row.Scan(&v)
	return v, err
}
