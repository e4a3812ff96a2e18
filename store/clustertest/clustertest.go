// Package clustertest starts a real ClickHouse cluster on loopback for tests:
// one standalone ZooKeeper (Debian's zookeeper package) and three
// clickhouse-server processes forming the cluster "yardstick" of two shards,
// the first with two replicas. Everything lives under one directory and is
// stopped by Stop.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/internal/chserver"
)

// Name is the cluster's name in every server's remote_servers.
const Name = "yardstick"

// ZooKeeperJar is where Debian's zookeeper package puts the server.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// ErrNoZooKeeper says ZooKeeper or Java is missing, with the install command.
var ErrNoZooKeeper = errors.New("ZooKeeper is not installed (looked for java on PATH and " + ZooKeeperJar + "); install it with: apt-get install -y zookeeper")

// Cluster is a running ZooKeeper and its ClickHouse servers.
type Cluster struct {
	Nodes []*Node
	zk    *ZooKeeper
	dir   string
}

// ZooKeeper is a standalone ZooKeeper server.
type ZooKeeper struct {
	Addr string // host:port for clients
	port int
	proc *chserver.Process
}

// Stop kills the server.
func (z *ZooKeeper) Stop() { z.proc.Stop(context.Background(), 0) }

// Node is one clickhouse-server of the cluster.
type Node struct {
	Shard, Replica int
	Addr           string // native protocol host:port
	httpAddr       string
	config         string
	argv           []string
	dir            string
	proc           *chserver.Process
}

// sysProcAttr puts a server in its own process group, killed with the test
// binary if that dies first.
var sysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

// topology: shard number of each node; nodes of one shard are its replicas in order.
var topology = []int{1, 1, 2}

// Start starts ZooKeeper and the three servers under dir and waits until each
// answers and sees ZooKeeper. It returns ErrNoZooKeeper or store.ErrNoClickHouse
// when a binary is missing.
func Start(ctx context.Context, dir string) (_ *Cluster, err error) {
	argv, err := store.FindClickHouse()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.zk, err = StartZooKeeper(ctx, filepath.Join(dir, "zookeeper")); err != nil {
		return nil, err
	}
	zkPort := c.zk.port
	type ports struct{ tcp, http, inter int }
	var ps []ports
	for range topology {
		var p ports
		for _, dst := range []*int{&p.tcp, &p.http, &p.inter} {
			if *dst, err = chserver.FreePort(); err != nil {
				return nil, err
			}
		}
		ps = append(ps, p)
	}
	var shards strings.Builder
	for shard := 1; shard <= topology[len(topology)-1]; shard++ {
		shards.WriteString("<shard><internal_replication>true</internal_replication>")
		for i, s := range topology {
			if s == shard {
				fmt.Fprintf(&shards, "<replica><host>127.0.0.1</host><port>%d</port></replica>", ps[i].tcp)
			}
		}
		shards.WriteString("</shard>")
	}
	replicaOf := map[int]int{}
	for i, shard := range topology {
		replicaOf[shard]++
		n := &Node{Shard: shard, Replica: replicaOf[shard], argv: argv,
			Addr:     chserver.Addr(ps[i].tcp),
			httpAddr: chserver.Addr(ps[i].http),
			dir:      filepath.Join(dir, fmt.Sprintf("ch%d", i+1)),
		}
		// {replica} is unique across the cluster: tables replicated on every
		// shard would otherwise see two replicas of one name.
		cfg := nodeConfig(n.dir, ps[i].tcp, ps[i].http, ps[i].inter, zkPort, shards.String(), shard, fmt.Sprintf("ch%d", i+1))
		if err := cfg.Write(); err != nil {
			return nil, err
		}
		n.config = cfg.Path()
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if err := n.Start(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.warmUp(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// warmUp runs one distributed DDL through every server. 18.16's DDL worker
// can crash on its first task when its ZooKeeper session came up slowly (a
// busy machine); a server that died is started again and the DDL retried,
// so the tests start on a cluster that has run DDL once.
func (c *Cluster) warmUp(ctx context.Context) error {
	q := url.QueryEscape("CREATE DATABASE IF NOT EXISTS yardstick_warmup ON CLUSTER " + Name)
	var last error
	for attempt := 1; attempt <= 4; attempt++ {
		if last = c.Nodes[0].post(ctx, q); last == nil {
			return nil
		}
		for _, n := range c.Nodes {
			if !n.alive(ctx) {
				n.Stop()
				if err := n.Start(ctx); err != nil {
					return err
				}
			}
		}
	}
	return fmt.Errorf("cluster: a distributed DDL does not run: %w", last)
}

// post runs an escaped query on the node over HTTP.
func (n *Node) post(ctx context.Context, escaped string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.httpAddr+"/?query="+escaped, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("shard %d replica %d: status %d: %s", n.Shard, n.Replica, resp.StatusCode, b)
	}
	return nil
}

// alive reports whether the node answers /ping.
func (n *Node) alive(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.httpAddr+"/ping", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// DSN returns a DSN naming every server (the driver uses the first that
// answers) and database.
func (c *Cluster) DSN(database string) string {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	return "clickhouse://" + strings.Join(addrs, ",") + "/" + database
}

// Stop kills every server and ZooKeeper.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
	if c.zk != nil {
		c.zk.Stop()
	}
}

// Start (re)starts the node's server and waits until it answers and has a
// ZooKeeper session. ClickHouse 18.16 gives up on ZooKeeper when the first
// handshake takes over a second (as on a busy machine) and can then crash in
// its DDL worker, so a server that fails to get there is started again, up to
// three times.
func (n *Node) Start(ctx context.Context) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = n.startOnce(ctx); err == nil || ctx.Err() != nil {
			return err
		}
		n.Stop()
	}
	return err
}

// zkQuery asks the server for ZooKeeper's root: it answers only with a session.
var zkQuery = "/?query=" + url.QueryEscape("SELECT count() FROM system.zookeeper WHERE path = '/'")

func (n *Node) startOnce(ctx context.Context) error {
	p, err := chserver.Start(append(slices.Clone(n.argv), "--config-file="+n.config), chserver.ServerEnv(), n.dir, filepath.Join(n.dir, "log", "stderr.log"), sysProcAttr)
	if err != nil {
		return err
	}
	n.proc = p
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for _, path := range []string{"/ping", zkQuery} {
		for {
			resp, err := http.Get("http://" + n.httpAddr + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-p.Exited():
				return fmt.Errorf("clickhouse-server shard %d replica %d exited at start:\n%s", n.Shard, n.Replica, chserver.Tail(filepath.Join(n.dir, "log", "error.log"), 10))
			case <-ctx.Done():
				return fmt.Errorf("clickhouse-server shard %d replica %d does not answer %s on %s: %w\n%s", n.Shard, n.Replica, path, n.httpAddr, ctx.Err(), chserver.Tail(filepath.Join(n.dir, "log", "error.log"), 10))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// Stop kills the node's server (as a crash would).
func (n *Node) Stop() {
	if n.proc != nil {
		n.proc.Stop(context.Background(), 0)
		n.proc = nil
	}
}

// StartZooKeeper starts a standalone ZooKeeper (Debian's zookeeper package)
// with its data under dir, on a free loopback port, and waits until it
// serves. It returns ErrNoZooKeeper when ZooKeeper or Java is missing.
func StartZooKeeper(ctx context.Context, dir string) (*ZooKeeper, error) {
	java, jerr := exec.LookPath("java")
	if _, serr := os.Stat(ZooKeeperJar); jerr != nil || serr != nil {
		return nil, ErrNoZooKeeper
	}
	port, err := chserver.FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n",
		filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	// zookeeper.jar's manifest names its dependencies; slf4j-simple (when
	// present) makes it log to the file below.
	cp := ZooKeeperJar
	if _, err := os.Stat("/usr/share/java/slf4j-simple.jar"); err == nil {
		cp += ":/usr/share/java/slf4j-simple.jar"
	}
	logPath := filepath.Join(dir, "zookeeper.log")
	p, err := chserver.Start([]string{java, "-Xmx256m", "-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath}, nil, dir, logPath, sysProcAttr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	addr := chserver.Addr(port)
	for {
		if ruok(addr) {
			return &ZooKeeper{Addr: addr, port: port, proc: p}, nil
		}
		select {
		case <-p.Exited():
			return nil, fmt.Errorf("zookeeper exited at start:\n%s", chserver.Tail(logPath, 10))
		case <-ctx.Done():
			p.Stop(context.Background(), 0)
			return nil, fmt.Errorf("zookeeper does not answer on %s: %w\n%s", addr, ctx.Err(), chserver.Tail(logPath, 10))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ruok asks ZooKeeper its four-letter "ruok"; a serving server answers "imok".
func ruok(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("ruok")); err != nil {
		return false
	}
	b, _ := io.ReadAll(conn)
	return string(b) == "imok"
}

// nodeConfig is a server's config: the cluster's shards, ZooKeeper, the
// {shard} and {replica} macros and the distributed DDL queue, on top of the
// launcher's single-server config.
func nodeConfig(dir string, tcp, httpPort, inter, zk int, shards string, shard int, replica string) chserver.Config {
	return chserver.Config{Dir: dir, TCPPort: tcp, HTTPPort: httpPort, CacheBytes: 128 << 20, MaxMemory: 2_000_000_000,
		Profile: "<load_balancing>in_order</load_balancing><distributed_product_mode>global</distributed_product_mode>",
		Extra: fmt.Sprintf(`    <interserver_http_port>%[1]d</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <remote_servers><%[3]s>%[4]s</%[3]s></remote_servers>
    <zookeeper>
        <node><host>127.0.0.1</host><port>%[2]d</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <macros><shard>%[5]d</shard><replica>%[6]s</replica></macros>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
`, inter, zk, Name, shards, shard, replica)}
}
