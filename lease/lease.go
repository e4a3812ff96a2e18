// Package lease lets several Yardstick processes agree that exactly one of
// them runs the scheduled jobs. The holder owns an ephemeral ZooKeeper node;
// ZooKeeper removes it when the holder's session ends (the process stops, or
// loses ZooKeeper for longer than the session timeout), and the next process
// waiting for it takes over.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/yardstick-dev/yardstick/scheduler"
)

// Config says where the lease lives.
type Config struct {
	Servers        []string      // ZooKeeper ensemble, host:port each
	Path           string        // the lease's node, e.g. /yardstick/jobs
	Holder         string        // who holds it (e.g. host:pid), stored in the node for operators
	SessionTimeout time.Duration // default 10s: how long a silent holder keeps the lease
	Logger         *slog.Logger
}

// Run campaigns for the lease until ctx ends. While this process holds it,
// work runs with a context that ends as soon as the lease may be lost (the
// ZooKeeper connection drops), and Run waits for work to return before it
// campaigns again, so two processes never run work at once as long as work
// stops when its context ends. On return Run gives the lease up.
func Run(ctx context.Context, cfg Config, work func(ctx context.Context)) error {
	if len(cfg.Servers) == 0 || !strings.HasPrefix(cfg.Path, "/") || cfg.Path == "/" {
		return fmt.Errorf("lease: need ZooKeeper servers and an absolute node path, got %v and %q", cfg.Servers, cfg.Path)
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	conn, events, err := zk.Connect(cfg.Servers, cfg.SessionTimeout, zk.WithLogger(zkLogger{logger}))
	if err != nil {
		return fmt.Errorf("lease: connect to ZooKeeper %v: %w", cfg.Servers, err)
	}
	defer conn.Close()
	c := &campaign{cfg: cfg, conn: conn, events: events, logger: logger, lost: make(chan struct{})}
	close(c.lost) // no session yet
	go c.watchSession()
	return c.run(ctx, work)
}

type campaign struct {
	cfg    Config
	conn   *zk.Conn
	events <-chan zk.Event
	logger *slog.Logger

	mu   sync.Mutex
	lost chan struct{} // closed while there is no session
}

func (c *campaign) run(ctx context.Context, work func(ctx context.Context)) error {
	for {
		if err := c.waitSession(ctx); err != nil {
			return nil
		}
		held, changed, err := c.tryAcquire()
		if err != nil {
			c.logger.Warn("lease: campaign failed; retrying", "path", c.cfg.Path, "err", err)
			if scheduler.Sleep(ctx, time.Second) != nil {
				return nil
			}
			continue
		}
		if !held {
			// Someone else holds it: wait until its node goes or our session changes.
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
			case <-c.sessionChange():
			}
			continue
		}
		c.logger.Info("lease: holding", "path", c.cfg.Path, "holder", c.cfg.Holder)
		c.hold(ctx, work)
		if ctx.Err() != nil {
			// Give the lease up at once, so the next holder need not wait out the session.
			if err := c.conn.Delete(c.cfg.Path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				c.logger.Warn("lease: release", "path", c.cfg.Path, "err", err)
			}
			return nil
		}
		c.logger.Warn("lease: lost the ZooKeeper session; stopped the work and campaigning again", "path", c.cfg.Path)
	}
}

// hold runs work until ctx ends or the session leaves StateHasSession.
func (c *campaign) hold(ctx context.Context, work func(ctx context.Context)) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		work(wctx)
	}()
	select {
	case <-ctx.Done():
	case <-c.sessionChange():
	case <-done:
	}
	cancel()
	<-done
}

// sessionChange returns a channel closed when the session leaves
// StateHasSession (a disconnect or an expiry may lose the lease); it is
// closed already while there is no session.
func (c *campaign) sessionChange() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// watchSession follows the session events for sessionChange.
func (c *campaign) watchSession() {
	for ev := range c.events {
		if ev.Type != zk.EventSession {
			continue
		}
		c.mu.Lock()
		select {
		case <-c.lost:
			if ev.State == zk.StateHasSession {
				c.lost = make(chan struct{})
			}
		default:
			if ev.State != zk.StateHasSession {
				close(c.lost)
			}
		}
		c.mu.Unlock()
	}
}

func (c *campaign) waitSession(ctx context.Context) error {
	for {
		select {
		case <-c.sessionChange():
		default:
			return nil
		}
		if err := scheduler.Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// tryAcquire creates the ephemeral node. When it exists, it reports whether
// this session owns it (a reconnect within the session timeout) and otherwise
// a channel that fires when it changes.
func (c *campaign) tryAcquire() (held bool, changed <-chan zk.Event, err error) {
	if err := c.ensureParents(); err != nil {
		return false, nil, err
	}
	_, err = c.conn.Create(c.cfg.Path, []byte(c.cfg.Holder), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	if err == nil {
		return true, nil, nil
	}
	if !errors.Is(err, zk.ErrNodeExists) {
		return false, nil, fmt.Errorf("create %s: %w", c.cfg.Path, err)
	}
	exists, stat, ch, err := c.conn.ExistsW(c.cfg.Path)
	if err != nil {
		return false, nil, fmt.Errorf("watch %s: %w", c.cfg.Path, err)
	}
	if !exists {
		// Gone between Create and ExistsW: campaign again at once.
		closed := make(chan zk.Event)
		close(closed)
		return false, closed, nil
	}
	if stat.EphemeralOwner == c.conn.SessionID() {
		return true, nil, nil
	}
	return false, ch, nil
}

func (c *campaign) ensureParents() error {
	dir := path.Dir(c.cfg.Path)
	if dir == "/" {
		return nil
	}
	p := ""
	for _, part := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		p += "/" + part
		if _, err := c.conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	return nil
}

// Holder returns who holds the lease at cfg.Path ("" when nobody does).
func Holder(cfg Config) (string, error) {
	timeout := cfg.SessionTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	conn, _, err := zk.Connect(cfg.Servers, timeout, zk.WithLogger(zkLogger{slog.New(slog.DiscardHandler)}))
	if err != nil {
		return "", fmt.Errorf("lease: connect to ZooKeeper %v: %w", cfg.Servers, err)
	}
	defer conn.Close()
	b, _, err := conn.Get(cfg.Path)
	if errors.Is(err, zk.ErrNoNode) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease: read %s: %w", cfg.Path, err)
	}
	return string(b), nil
}

// zkLogger sends the ZooKeeper client's messages to slog at debug level.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) { z.l.Debug(fmt.Sprintf(format, args...)) }
