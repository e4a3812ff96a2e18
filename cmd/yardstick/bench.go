package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
)

func newBenchCmd(a *app) *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Measurements that need whole processes (make bench runs them)"}
	var components, days, rounds int
	ing := &cobra.Command{
		Use:   "ingest",
		Short: "Ingest a generated file with `yardstick ingest` and with clickhouse-client JSONEachRow; print both rates and their ratio",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.benchIngest(cmd.Context(), components, days, rounds)
		},
	}
	ing.Flags().IntVar(&components, "components", 1000, "components of the generated organisation")
	ing.Flags().IntVar(&days, "days", 90, "days of history (1000 components x 90 days is about 1,000,000 events)")
	ing.Flags().IntVar(&rounds, "rounds", 3, "runs of each method; the best of each is compared")
	c.AddCommand(ing, newBenchLoadCmd(a), newBenchOutageCmd(a))
	return c
}

func (a *app) benchIngest(ctx context.Context, components, days, rounds int) error {
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
	db, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	srv := db.Server()
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
	self, err := os.Executable()
	if err != nil {
		return err
	}
	host, port, _ := strings.Cut(srv.Addr, ":")
	clientArgv := append(strings.Fields(client), "--host", host, "--port", port, "--database", "bench_client",
		"--query", "INSERT INTO events (source, type, scope, id, time, actor, num_keys, num_values, str_keys, str_values, related, version, deleted) FORMAT JSONEachRow")
	methods := []benchMethod{
		{name: "yardstick ingest", db: "bench_yardstick", argv: []string{self, "--clickhouse", "clickhouse://" + srv.Addr + "/bench_yardstick", "--log-level", "warn", "ingest", ours}},
		{name: "clickhouse-client JSON", db: "bench_client", argv: clientArgv, stdin: theirs},
	}
	fmt.Fprintf(a.out, "ingest of %d events (%d components, %d days), %d rounds, order alternating\n", n, components, days, rounds)
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
			r, err := m.run(ctx, srv.PID(), a.errOut)
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
			fmt.Fprintf(a.out, "  round %d  %-22s %6.2fs  %9.0f events/s  (CPU: client %.1fs, server %.1fs)%s\n",
				round+1, m.name, r.took.Seconds(), float64(n)/r.took.Seconds(), r.clientCPU.Seconds(), r.serverCPU.Seconds(), r.peakText())
			i := (k + round) % len(methods)
			if best[i].took == 0 || r.took < best[i].took {
				best[i] = r
			}
		}
	}
	yRate, cRate := float64(n)/best[0].took.Seconds(), float64(n)/best[1].took.Seconds()
	fmt.Fprintf(a.out, "  best: yardstick %.0f events/s, clickhouse-client %.0f events/s\n", yRate, cRate)
	fmt.Fprintf(a.out, "  ratio (yardstick / clickhouse-client) %.2f (target >= 1.0); yardstick peak memory %.0f MB (target < 300 MB)\n", yRate/cRate, best[0].peakMB)
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

// waitForMerges waits until the server runs no background merges.
func waitForMerges(ctx context.Context, addr string) error {
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + addr + "/default", Database: "bench_client"})
	if err != nil {
		return err
	}
	defer db.Close()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var n uint64
		if err := db.Conn().QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
	return nil
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
		for _, k := range sortedKeys(e.Num) {
			r.NumKeys, r.NumValues = append(r.NumKeys, k), append(r.NumValues, e.Num[k])
		}
		for _, k := range sortedKeys(e.Str) {
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
	return db.Conn().Exec(ctx, "TRUNCATE TABLE events")
}

func countEvents(ctx context.Context, addr, name string) (uint64, error) {
	db, err := store.Open(ctx, store.Config{DSN: "clickhouse://" + addr + "/default", Database: name})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n uint64
	err = db.Conn().QueryRow(ctx, "SELECT count() FROM events FINAL WHERE deleted = 0").Scan(&n)
	return n, err
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
