package store

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

// Conn gives the store's own tests the driver, to insert rows no method
// writes. Other packages go through the store's methods.
func (db *DB) Conn() driver.Conn { return db.conn }
