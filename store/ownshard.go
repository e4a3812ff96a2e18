package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// Reading the own shard in-process (docs/cluster.md, "Metric reads").
//
// In cluster mode the store reads with prefer_localhost_replica = 0: every
// shard, the connected server's own included, is read over the network, on
// its first live replica (load_balancing = in_order), the replica inserts go
// to. A server that is the first replica of its shard in the cluster's config
// can read its shard in-process instead and still read exactly what in_order
// would: its own replica. So the store keeps a second pool pinned to such a
// server of the DSN, if there is one, and sends over it the reads marked with
// ownShardRead, with prefer_localhost_replica = 1: the metric reads
// (observations, the generation, the catalog and its version). ClickHouse
// 18.16 fails a FINAL read over a Distributed table that reads its own shard
// in-process unless the read selects the table's version column and every
// sort-key column ("Cannot find column version in source stream", ClickHouse
// issue 5346), so a marked FINAL read must select them; the catalog's do.
//
// A replica that has fallen behind is passed over like a remote one: the
// reads allow it ownShardMaxDelay seconds of replication delay, after which
// ClickHouse reads the shard's next replica. When the pinned server does not
// answer, the reads go through the store's own pool for ownShardPause.

// ownShardMaxDelay is max_replica_delay_for_distributed_queries of the reads
// of the own shard, in seconds (ClickHouse's default is 300).
const ownShardMaxDelay = 5

// ownShardPause is how long reads stay on the store's own pool after the
// pinned server failed to answer.
const ownShardPause = 30 * time.Second

// ownShardProbeTimeout bounds the look at each DSN server when the store opens.
const ownShardProbeTimeout = 2 * time.Second

type ownShardReadKey struct{}

// ownShardRead marks ctx's reads as ones that may read the connected server's
// shard in-process in cluster mode: they hold no FINAL over a Distributed
// table, or one that selects the version and every sort-key column.
func ownShardRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, ownShardReadKey{}, true)
}

// ownShardConn is the store's connection in cluster mode when a server of the
// DSN is the first replica of its shard: reads marked ownShardRead go to that
// server with prefer_localhost_replica = 1, every other call to the store's
// own pool (the embedded Conn).
type ownShardConn struct {
	driver.Conn              // the store's pool
	near        driver.Conn  // pinned to addr, settings for reading the own shard
	addr        string       // host:port of the pinned server
	pausedUntil atomic.Int64 // Unix nanoseconds; reads use the store's pool before
	logger      *slog.Logger
}

// openOwnShard returns a pool pinned to the first server of opts.Addr that is
// the first replica of its shard in cluster, with the settings for reading
// its shard in-process, or nil (and no error) when none is, or none answers.
func openOwnShard(ctx context.Context, opts *clickhouse.Options, cluster string, read, write time.Duration, logger *slog.Logger) (*ownShardConn, error) {
	for _, addr := range opts.Addr {
		pinned := *opts
		pinned.Addr = []string{addr}
		pinned.Settings = maps.Clone(opts.Settings)
		pinned.Settings["prefer_localhost_replica"] = 1
		pinned.Settings["max_replica_delay_for_distributed_queries"] = ownShardMaxDelay
		raw, err := clickhouse.Open(&pinned)
		if err != nil {
			return nil, fmt.Errorf("connect to ClickHouse at %s: %w", addr, err)
		}
		near := &deadlineConn{Conn: raw, read: read, write: write, where: addr}
		pctx, cancel := context.WithTimeout(ctx, ownShardProbeTimeout)
		shard, first, err := firstReplica(pctx, near, cluster, addr)
		cancel()
		if err == nil && first {
			logger.Info("metric reads take the own shard in-process", "server", addr, "shard", shard)
			return &ownShardConn{near: near, addr: addr, logger: logger}, nil
		}
		_ = raw.Close()
		if err != nil {
			logger.Debug("own-shard reads: server not usable", "server", addr, "err", err)
		}
	}
	return nil, nil
}

// firstReplica says which shard the server at addr (host:port, as the DSN
// names it) is a replica of in cluster, and whether it is the shard's first
// replica. It finds the server's row of system.clusters by port and by host
// name or address; a server it cannot find is not a first replica.
func firstReplica(ctx context.Context, conn driver.Conn, cluster, addr string) (int, bool, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return 0, false, err
	}
	hosts := []string{host}
	if ips, err := net.DefaultResolver.LookupHost(ctx, host); err == nil {
		hosts = append(hosts, ips...)
	}
	rows, err := conn.Query(ctx, `SELECT shard_num, replica_num, host_name, host_address FROM system.clusters
WHERE cluster = ? AND is_local = 1 AND port = ?`, cluster, uint16(port))
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	shard, first, found := 0, false, 0
	for rows.Next() {
		var (
			s, r     uint32
			name, ip string
		)
		if err := rows.Scan(&s, &r, &name, &ip); err != nil {
			return 0, false, err
		}
		if slices.Contains(hosts, name) || slices.Contains(hosts, ip) {
			shard, first, found = int(s), r == 1, found+1
		}
	}
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	// Two rows for one address would be a config this cannot reason about.
	return shard, first && found == 1, nil
}

// pinned returns the pinned pool for a read with ctx, or nil.
func (c *ownShardConn) pinned(ctx context.Context) driver.Conn {
	if ok, _ := ctx.Value(ownShardReadKey{}).(bool); !ok || time.Now().UnixNano() < c.pausedUntil.Load() {
		return nil
	}
	return c.near
}

// failed reports whether err means the pinned server did not answer, and if
// so pauses the reads of the own shard.
func (c *ownShardConn) failed(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || !errors.Is(err, yardstick.ErrUnavailable) {
		return false
	}
	c.pausedUntil.Store(time.Now().Add(ownShardPause).UnixNano())
	c.logger.Warn("own-shard reads paused: the server does not answer; reading through the DSN's servers", "server", c.addr, "for", ownShardPause, "err", err)
	return true
}

func (c *ownShardConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	if near := c.pinned(ctx); near != nil {
		rows, err := near.Query(ctx, query, args...)
		if !c.failed(ctx, err) {
			return rows, err
		}
	}
	return c.Conn.Query(ctx, query, args...)
}

func (c *ownShardConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	if near := c.pinned(ctx); near != nil {
		row := near.QueryRow(ctx, query, args...)
		if !c.failed(ctx, row.Err()) {
			return row
		}
	}
	return c.Conn.QueryRow(ctx, query, args...)
}

func (c *ownShardConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	if near := c.pinned(ctx); near != nil {
		if err := near.Select(ctx, dest, query, args...); !c.failed(ctx, err) {
			return err
		}
	}
	return c.Conn.Select(ctx, dest, query, args...)
}

func (c *ownShardConn) Close() error {
	return errors.Join(c.near.Close(), c.Conn.Close())
}
