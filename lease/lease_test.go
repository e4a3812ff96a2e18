package lease_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yardstick-dev/yardstick/lease"
	"github.com/yardstick-dev/yardstick/store/clustertest"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

var (
	zkAddr string
	zkSvc  *storetest.Service
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	svc, stop, err := storetest.StartService("lease", time.Minute, func(ctx context.Context, dir string) (func(), error) {
		zk, err := clustertest.StartZooKeeper(ctx, dir)
		if err != nil {
			return nil, err
		}
		zkAddr = zk.Addr
		return zk.Stop, nil
	}, clustertest.ErrNoZooKeeper)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	zkSvc = svc
	return m.Run()
}

func requireZooKeeper(t *testing.T) {
	t.Helper()
	zkSvc.Require(t)
}

// holders counts the processes running their work at once.
type holders struct {
	now, max atomic.Int32
	mu       sync.Mutex
	order    []string
}

func (h *holders) work(name string, started chan<- string) func(ctx context.Context) {
	return func(ctx context.Context) {
		n := h.now.Add(1)
		for {
			m := h.max.Load()
			if n <= m || h.max.CompareAndSwap(m, n) {
				break
			}
		}
		h.mu.Lock()
		h.order = append(h.order, name)
		h.mu.Unlock()
		started <- name
		<-ctx.Done()
		h.now.Add(-1)
	}
}

// TestOneHolderAtATime runs three campaigns for one lease: one works, and
// when it stops, another takes over; never two at once.
func TestOneHolderAtATime(t *testing.T) {
	requireZooKeeper(t)
	cfg := func(name string) lease.Config {
		return lease.Config{Servers: []string{zkAddr}, Path: "/yardstick/test-one/jobs", Holder: name, SessionTimeout: 4 * time.Second}
	}
	var h holders
	started := make(chan string, 10)
	cancels := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[name] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := lease.Run(ctx, cfg(name), h.work(name, started)); err != nil {
				t.Errorf("Run(%s) = %v", name, err)
			}
		}()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}()
	seen := map[string]bool{}
	for range 3 {
		select {
		case first := <-started:
			if seen[first] {
				t.Fatalf("%s got the lease twice", first)
			}
			seen[first] = true
			holder, err := lease.Holder(cfg(""))
			if err != nil || holder != first {
				t.Errorf("Holder() = %q, %v; want %q", holder, err, first)
			}
			// No one else starts while it holds the lease.
			select {
			case other := <-started:
				t.Fatalf("%s started while %s holds the lease", other, first)
			case <-time.After(500 * time.Millisecond):
			}
			cancels[first]() // it stops and gives the lease up
		case <-time.After(30 * time.Second):
			t.Fatalf("no holder within 30s (seen %v)", seen)
		}
	}
	if got := h.max.Load(); got != 1 {
		t.Errorf("at most %d holders worked at once, want 1", got)
	}
}

// cutProxy forwards TCP to target until cut, after which it closes every
// connection and refuses new ones: a holder cut off from ZooKeeper.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(func() { p.Cut(); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			p.mu.Lock()
			if err != nil || p.cut {
				p.mu.Unlock()
				c.Close()
				if up != nil {
					up.Close()
				}
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
}

// TestHolderCutOffStopsAndIsReplaced: a holder that loses ZooKeeper (as a
// crashed or partitioned process does) stops its work at once, and another
// process takes over once ZooKeeper expires the holder's session; never two
// at once.
func TestHolderCutOffStopsAndIsReplaced(t *testing.T) {
	requireZooKeeper(t)
	const timeout = 4 * time.Second
	proxy := newCutProxy(t, zkAddr)
	cfgA := lease.Config{Servers: []string{proxy.Addr()}, Path: "/yardstick/test-cut/jobs", Holder: "a", SessionTimeout: timeout}
	cfgB := lease.Config{Servers: []string{zkAddr}, Path: "/yardstick/test-cut/jobs", Holder: "b", SessionTimeout: timeout}
	started := make(chan string, 4)
	var h holders
	stoppedA := make(chan time.Time, 1)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		_ = lease.Run(ctx, cfgA, func(wctx context.Context) {
			h.work("a", started)(wctx)
			stoppedA <- time.Now()
		})
	}()
	if got := <-started; got != "a" {
		t.Fatalf("first holder = %s, want a", got)
	}
	go func() { _ = lease.Run(ctx, cfgB, h.work("b", started)) }()
	select {
	case got := <-started:
		t.Fatalf("%s started while a holds the lease", got)
	case <-time.After(time.Second):
	}
	cutAt := time.Now()
	proxy.Cut()
	select {
	case at := <-stoppedA:
		if d := at.Sub(cutAt); d > timeout {
			t.Errorf("a stopped its work %s after losing ZooKeeper, want within the session timeout %s", d, timeout)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a kept working 20s after losing ZooKeeper")
	}
	select {
	case got := <-started:
		if got != "b" {
			t.Fatalf("next holder = %s, want b", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b did not take the lease over within 30s")
	}
	if got := h.max.Load(); got != 1 {
		t.Errorf("at most %d holders worked at once, want 1", got)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	err := lease.Run(context.Background(), lease.Config{Servers: []string{"127.0.0.1:1"}, Path: "relative"}, func(context.Context) {})
	if err == nil {
		t.Error("Run(relative path) = nil, want an error")
	}
}
