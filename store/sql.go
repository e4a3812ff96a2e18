package store

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// QueryResult is a read-only query's answer as text, for `yardstick sql`.
type QueryResult struct {
	Columns []string
	Rows    [][]string
}

// ReadOnlyQuery runs q with ClickHouse's readonly setting, so the power user's
// way in can never change data, and returns at most maxRows rows as text.
func (db *DB) ReadOnlyQuery(ctx context.Context, q string, maxRows int) (QueryResult, error) {
	// A user's query is not one of the store's statements: it is not recorded.
	ctx = withAdhoc(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"readonly": 1})))
	rows, err := db.conn.Query(ctx, q)
	if err != nil {
		return QueryResult{}, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var res QueryResult
	types := rows.ColumnTypes()
	res.Columns = rows.Columns()
	for rows.Next() {
		if maxRows > 0 && len(res.Rows) >= maxRows {
			break
		}
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return res, fmt.Errorf("scan row %d: %w", len(res.Rows)+1, err)
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			row[i] = formatValue(reflect.ValueOf(d).Elem().Interface())
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05")
	case string:
		return x
	case []string:
		return fmt.Sprintf("%q", x)
	default:
		return fmt.Sprint(x)
	}
}
