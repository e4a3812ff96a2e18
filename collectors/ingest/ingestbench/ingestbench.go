// Package ingestbench measures `yardstick ingest` against ClickHouse's own
// client on the same generated events, as whole processes on one local
// server: the rate ratio and yardstick's peak memory (make bench).
package ingestbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
)

// Config says what to measure and against which server.
type Config struct {
	Components, Days, Rounds int
	// Self is the yardstick binary, run as `Self ingest FILE`.
	Self string
	// Server is the local ClickHouse both methods write to; bench_yardstick
	// and bench_client are its databases.
	Server *store.Server
	Out    io.Writer // the report
	ErrOut io.Writer // the children's stderr
}

// Run writes a generated organisation's events twice, inserts them with
// `yardstick ingest` and with clickhouse-client's JSONEachRow, alternating
// the order, Rounds times each, and prints every round and the best rates.
func Run(ctx context.Context, cfg Config) error {
	components, days, rounds := cfg.Components, cfg.Days, cfg.Rounds
	dir, err := os.MkdirTemp("", "yardstick-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	org := fixtures.Generate(fixtures.GenConfig{Components: components, Days: days, Seed: 42})
	ours, theirs := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "events-clickhouse.jsonl")
	n, err := writeBenchFiles(org, ours, theirs)
	if err != nil {
		return err
	}
	srv := cfg.Server
	if srv == nil {
		return fmt.Errorf("bench ingest needs the local server (no --clickhouse DSN): it runs clickhouse-client against it")
	}
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		if client, err = exec.LookPath("clickhouse"); err != nil {
			return fmt.Errorf("bench ingest: clickhouse-client not found (apt-get install clickhouse-client)")
		}
		client += " client"
	}
	self := cfg.Self
	host, port, _ := strings.Cut(srv.Addr, ":")
	clientArgv := append(strings.Fields(client), "--host", host, "--port", port, "--database", "bench_client",
		"--query", "INSERT INTO events (source, type, scope, id, time, actor, num_keys, num_values, str_keys, str_values, related, version, deleted) FORMAT JSONEachRow")
	methods := []benchMethod{
		{name: "yardstick ingest", db: "bench_yardstick", argv: []string{self, "--clickhouse", "clickhouse://" + srv.Addr + "/bench_yardstick", "--log-level", "warn", "ingest", ours}},
		{name: "clickhouse-client JSON", db: "bench_client", argv: clientArgv, stdin: theirs},
	}
	fmt.Fprintf(cfg.Out, "ingest of %d events (%d components, %d days), %d rounds, order alternating\n", n, components, days, rounds)
	best := make([]benchRun, len(methods))
	for round := 0; round < rounds; round++ {
		for k := range methods {
			m := methods[(k+round)%len(methods)]
			// Each run starts from an empty table on a server with no merges
			// left from the previous run, so neither method pays for the other.
			if err := freshDatabase(ctx, srv.Addr, m.db); err != nil {
				return err
			}
			if err := waitForMerges(ctx, srv.Addr); err != nil {
				return err
			}
			r, err := m.run(ctx, srv.PID(), cfg.ErrOut)
			if err != nil {
				return err
			}
			got, err := countEvents(ctx, srv.Addr, m.db)
			if err != nil {
				return err
			}
			if got != uint64(n) {
				return fmt.Errorf("bench ingest: %s holds %d events, want %d", m.db, got, n)
			}
			fmt.Fprintf(cfg.Out, "  round %d  %-22s %6.2fs  %9.0f events/s  (CPU: client %.1fs, server %.1fs)%s\n",
				round+1, m.name, r.took.Seconds(), float64(n)/r.took.Seconds(), r.clientCPU.Seconds(), r.serverCPU.Seconds(), r.peakText())
			i := (k + round) % len(methods)
			if best[i].took == 0 || r.took < best[i].took {
				best[i] = r
			}
		}
	}
	yRate, cRate := float64(n)/best[0].took.Seconds(), float64(n)/best[1].took.Seconds()
	fmt.Fprintf(cfg.Out, "  best: yardstick %.0f events/s, clickhouse-client %.0f events/s\n", yRate, cRate)
	fmt.Fprintf(cfg.Out, "  ratio (yardstick / clickhouse-client) %.2f (target >= 1.0); yardstick peak memory %.0f MB (target < 300 MB)\n", yRate/cRate, best[0].peakMB)
	return nil
}

// benchMethod is one way of inserting the file, run as a child process.
type benchMethod struct {
	name, db string
	argv     []string
	stdin    string
}

type benchRun struct {
	took, clientCPU, serverCPU time.Duration
	peakMB                     float64
}

func (r benchRun) peakText() string {
	if r.peakMB == 0 {
		return ""
	}
	return fmt.Sprintf("  peak %.0f MB", r.peakMB)
}

func (m benchMethod) run(ctx context.Context, serverPID int, errOut io.Writer) (benchRun, error) {
	cmd := exec.CommandContext(ctx, m.argv[0], m.argv[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, errOut
	if m.stdin != "" {
		in, err := os.Open(m.stdin)
		if err != nil {
			return benchRun{}, err
		}
		defer in.Close()
		cmd.Stdin = in
	}
	start, srvStart := time.Now(), processCPU(serverPID)
	if err := cmd.Run(); err != nil {
		return benchRun{}, fmt.Errorf("%s: %w", m.name, err)
	}
	r := benchRun{took: time.Since(start), serverCPU: processCPU(serverPID) - srvStart,
		clientCPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	// `yardstick ingest` reports its own high-water mark: rusage's maxrss would
	// count the memory of this process at fork time.
	if i := strings.Index(out.String(), "peak memory "); i >= 0 {
		fmt.Sscanf(out.String()[i:], "peak memory %f MB", &r.peakMB)
	}
	return r, nil
}

// waitForMerges waits until the server runs no background merges, for up
// to 2 minutes.
func waitForMerges(ctx context.Context, addr string) error {
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + addr + "/default", Database: "bench_client"})
	if err != nil {
		return err
	}
	defer db.Close()
	_, _, err = db.WaitForMerges(ctx, 0, 2*time.Minute)
	return err
}

// writeBenchFiles writes the same events twice: as `yardstick ingest` reads
// them, and as rows of the events table for clickhouse-client's JSONEachRow.
func writeBenchFiles(org *fixtures.Org, ours, theirs string) (n int, err error) {
	f, err := os.Create(ours)
	if err != nil {
		return 0, err
	}
	n, err = org.WriteEvents(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	g, err := os.Create(theirs)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(g, 1<<20)
	defer func() {
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		if cerr := g.Close(); err == nil {
			err = cerr
		}
	}()
	enc := json.NewEncoder(w)
	type row struct {
		Source    string    `json:"source"`
		Type      string    `json:"type"`
		Scope     string    `json:"scope"`
		ID        string    `json:"id"`
		Time      string    `json:"time"`
		Actor     string    `json:"actor"`
		NumKeys   []string  `json:"num_keys"`
		NumValues []float64 `json:"num_values"`
		StrKeys   []string  `json:"str_keys"`
		StrValues []string  `json:"str_values"`
		Related   []string  `json:"related"`
		Version   uint64    `json:"version"`
		Deleted   uint8     `json:"deleted"`
	}
	ver := uint64(time.Now().UnixNano())
	return n, org.EachEvent(func(e yardstick.Event) error {
		r := row{Source: e.Source, Type: e.Type, Scope: string(e.Scope), ID: e.ID, Time: e.Time.UTC().Format("2006-01-02 15:04:05"),
			Actor: e.Actor, NumKeys: []string{}, NumValues: []float64{}, StrKeys: []string{}, StrValues: []string{}, Related: e.Related, Version: ver}
		for _, k := range slices.Sorted(maps.Keys(e.Num)) {
			r.NumKeys, r.NumValues = append(r.NumKeys, k), append(r.NumValues, e.Num[k])
		}
		for _, k := range slices.Sorted(maps.Keys(e.Str)) {
			r.StrKeys, r.StrValues = append(r.StrKeys, k), append(r.StrValues, e.Str[k])
		}
		if r.Related == nil {
			r.Related = []string{}
		}
		return enc.Encode(r)
	})
}

func freshDatabase(ctx context.Context, addr, name string) error {
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + addr + "/default", Database: name})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.TruncateEvents(ctx)
}

func countEvents(ctx context.Context, addr, name string) (uint64, error) {
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + addr + "/default", Database: name})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.CountEvents(ctx)
}

// processCPU returns the user+system CPU time a process has used so far
// (from /proc; zero where /proc is missing), to show where benchmark time goes.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}
