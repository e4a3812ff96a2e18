// Package store is Yardstick's ClickHouse layer and the only importer of the
// driver: the launcher of a local server, embedded schema migrations, batched
// idempotent writes and the queries everyone else reads through.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/yardstick-dev/yardstick"
)

// Config says which ClickHouse to use. With an empty DSN the store launches
// (or attaches to) a local server under DataDir.
type Config struct {
	DSN      string // clickhouse://user:pass@host:9000/db; empty: local server
	DataDir  string // default ./.yardstick
	Database string // default "yardstick"; overrides the DSN's database when set
	Logger   *slog.Logger
	// ScopesOf returns the source scopes an entity's annotations name (the
	// source registry's ScopesOf); the catalog maps each to the entity. Nil
	// maps every entity to its own entity scope only.
	ScopesOf func(yardstick.Entity) []yardstick.Scope
	// FactNamespaces returns the further namespaces a source's facts are
	// visible under in LatestFacts and FactsAsOf, besides the source's own
	// (the source registry's FactNamespaces: "git" for the Git hosts, so
	// rules read facts.git.files of a GitHub or a GitLab repository alike).
	// Nil adds none.
	FactNamespaces func(source string) []string
	// Cluster names a cluster of the servers' remote_servers config: tables are
	// Replicated*MergeTree created ON CLUSTER, read and written through
	// Distributed tables sharded by scope (see docs/cluster.md). Needs a DSN.
	Cluster string

	// ReadTimeout bounds every query (and ping); WriteTimeout every insert and
	// statement. Defaults DefaultReadTimeout and DefaultWriteTimeout. A call
	// past its deadline, or to a server that does not answer, returns an error
	// wrapping yardstick.ErrUnavailable.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// NoSupervise turns off the supervision of a local server (restart when
	// it exits, take-over when its owner exits; see LaunchConfig).
	NoSupervise bool
}

// DB is an open store. Safe for concurrent use.
type DB struct {
	conn     driver.Conn // a *deadlineConn (every call has a deadline), in an *ownShardConn when it reads the own shard
	raw      driver.Conn // the driver's own, for long streams (EventStream)
	database string
	cluster  string // "" on a single server
	server   *Server
	// onThisMachine: the server's addresses are loopback ones, so its cores
	// are this machine's (the refresh's default parallelism).
	onThisMachine bool
	logger        *slog.Logger
	now           func() time.Time
	scopesOf      func(yardstick.Entity) []yardstick.Scope
	// factNamespaces is Config.FactNamespaces.
	factNamespaces func(source string) []string
	types          *recordedTypes
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects to ClickHouse (starting a local server when no DSN is given),
// creates the database if needed and runs pending migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = ".yardstick"
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	var (
		opts   *clickhouse.Options
		server *Server
		err    error
	)
	if cfg.DSN != "" {
		opts, err = clickhouse.ParseDSN(cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("parse ClickHouse DSN %s: %w", redactDSN(cfg.DSN), err)
		}
	} else {
		server, err = LaunchWith(ctx, LaunchConfig{DataDir: cfg.DataDir, Logger: logger, NoSupervise: cfg.NoSupervise})
		if err != nil {
			return nil, err
		}
		opts = &clickhouse.Options{Addr: []string{server.Addr}}
	}
	database := cfg.Database
	if database == "" {
		database = opts.Auth.Database
	}
	// A DSN naming no database, or only ClickHouse's "default", gets Yardstick's own.
	if database == "" || (database == "default" && cfg.Database == "") {
		database = "yardstick"
	}
	if !identRE.MatchString(database) {
		return nil, fmt.Errorf("database name %q: letters, digits and _ only: %w", database, errInvalidName)
	}
	if cfg.Cluster != "" {
		if !identRE.MatchString(cfg.Cluster) {
			return nil, fmt.Errorf("cluster name %q: letters, digits and _ only: %w", cfg.Cluster, errInvalidName)
		}
		if server != nil {
			return nil, fmt.Errorf("cluster %s: cluster mode needs a DSN of the cluster's servers, not a local server: %w", cfg.Cluster, errInvalidName)
		}
		if opts.Settings == nil {
			opts.Settings = clickhouse.Settings{}
		}
		for k, v := range clusterSettings {
			if _, set := opts.Settings[k]; !set {
				opts.Settings[k] = v
			}
		}
	}
	db, err := connect(ctx, opts, database, cfg.Cluster, server, logger, cfg.ReadTimeout, cfg.WriteTimeout)
	if err != nil {
		if server != nil {
			_ = server.Stop(context.Background())
		}
		return nil, err
	}
	db.scopesOf = cfg.ScopesOf
	db.factNamespaces = cfg.FactNamespaces
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

var errInvalidName = errors.New("invalid name")

func connect(ctx context.Context, opts *clickhouse.Options, database, cluster string, server *Server, logger *slog.Logger, read, write time.Duration) (*DB, error) {
	where := strings.Join(opts.Addr, ",")
	if opts.ReadTimeout == 0 {
		// The socket's read deadline for one block: long queries still pass
		// (the server sends progress), a server that stopped answering does not.
		opts.ReadTimeout = max(read, write)
	}
	base := *opts
	base.Auth.Database = "default"
	setDefaults(&base)
	rawAdmin, err := clickhouse.Open(&base)
	if err != nil {
		return nil, fmt.Errorf("connect to ClickHouse at %s: %w", where, err)
	}
	defer rawAdmin.Close()
	admin := &deadlineConn{Conn: rawAdmin, read: read, write: write, where: where}
	if err := admin.Ping(ctx); err != nil {
		return nil, fmt.Errorf("ClickHouse at %s does not answer (is the server running and the DSN right?): %w", where, err)
	}
	// Identifiers cannot be bound; database was checked against identRE above.
	if cluster != "" {
		if err := checkClusterProfile(ctx, admin, where); err != nil {
			return nil, err
		}
	}
	if err := createDatabase(ctx, admin, database, cluster); err != nil {
		return nil, err
	}
	withDB := *opts
	withDB.Auth.Database = database
	setDefaults(&withDB)
	raw, err := clickhouse.Open(&withDB)
	if err != nil {
		return nil, fmt.Errorf("connect to ClickHouse at %s: %w", where, err)
	}
	// Recording (when asked) sees every statement; deadlines wrap it.
	// Cluster-mode statements (ON CLUSTER, Replicated engines, cluster()) are
	// not recorded: the check on current ClickHouse runs on one server.
	var rec driver.Conn = raw
	if cluster == "" {
		if rec, err = recordingConnFromEnv(raw); err != nil {
			_ = raw.Close()
			return nil, err
		}
	}
	var conn driver.Conn = &deadlineConn{Conn: rec, read: read, write: write, where: where}
	if cluster != "" {
		own, err := openOwnShard(ctx, &withDB, cluster, read, write, logger)
		if err != nil {
			_ = raw.Close()
			return nil, err
		}
		if own != nil {
			own.Conn = conn
			conn = own
		}
	}
	return &DB{conn: conn, raw: rec, database: database, cluster: cluster, server: server, onThisMachine: onLoopback(opts.Addr),
		logger: logger, now: time.Now, types: &recordedTypes{}}, nil
}

// onLoopback says whether every address is a loopback one: the server shares
// this machine (the one the store starts for itself, a test's, a developer's).
func onLoopback(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return len(addrs) > 0
}

// createDatabase creates database, ON CLUSTER in cluster mode. A database that
// exists is left alone, so a store opens while a server of the cluster is down
// (distributed DDL waits for every server).
func createDatabase(ctx context.Context, admin driver.Conn, database, cluster string) error {
	if cluster != "" {
		var n uint64
		if err := admin.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", database).Scan(&n); err != nil {
			return fmt.Errorf("look up database %s: %w", database, err)
		}
		if n > 0 {
			return nil
		}
	}
	// Identifiers cannot be bound; database and cluster were checked against identRE.
	q := "CREATE DATABASE IF NOT EXISTS " + database
	if cluster != "" {
		q += " ON CLUSTER " + cluster
	}
	if err := admin.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	return nil
}

func setDefaults(o *clickhouse.Options) {
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = 16
	}
	if o.Compression == nil {
		// Compression saves network, not CPU: on loopback it only costs both
		// processes time (a tenth of a large ingest).
		method := clickhouse.CompressionLZ4
		if allLoopback(o.Addr) {
			method = clickhouse.CompressionNone
		}
		o.Compression = &clickhouse.Compression{Method: method}
	}
}

func allLoopback(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return len(addrs) > 0
}

func ping(ctx context.Context, addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Ping(ctx)
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// Database returns the database name in use.
func (db *DB) Database() string { return db.database }

// Server returns the local server the store launched or attached to, nil with a DSN.
func (db *DB) Server() *Server { return db.server }

// Ping reports whether ClickHouse answers; /readyz uses it. It returns an
// error wrapping yardstick.ErrUnavailable when the server does not answer
// within ctx's deadline (or the read timeout).
func (db *DB) Ping(ctx context.Context) error { return db.conn.Ping(ctx) }

// Close closes the connection and stops a local server this process started.
func (db *DB) Close() error {
	err := db.conn.Close()
	if db.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		err = errors.Join(err, db.server.Stop(ctx))
	}
	return err
}

// version returns a monotonically increasing row version for ReplacingMergeTree.
func (db *DB) version() uint64 { return uint64(db.now().UnixNano()) }

// insert sends one batch through the native protocol. ClickHouse 18.16 needs the
// explicit column list in query; fill appends the rows.
func (db *DB) insert(ctx context.Context, query string, fill func(driver.Batch) error) error {
	b, err := db.conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	if err := fill(b); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// inSet binds a list for `x IN ?`. clickhouse-go binds a plain slice as an array
// literal, which ClickHouse 18.16 refuses in IN; a GroupSet binds as a tuple.
// Callers must not pass an empty list (`IN ()` is not valid SQL).
func inSet[T ~string](vals []T) clickhouse.GroupSet {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return clickhouse.GroupSet{Value: out}
}
