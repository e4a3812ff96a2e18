package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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
	var components, days int
	ing := &cobra.Command{
		Use:   "ingest",
		Short: "Ingest a generated file with `yardstick ingest` and with clickhouse-client JSONEachRow; print both rates and their ratio",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.benchIngest(cmd.Context(), components, days)
		},
	}
	ing.Flags().IntVar(&components, "components", 1000, "components of the generated organisation")
	ing.Flags().IntVar(&days, "days", 90, "days of history (1000 components x 90 days is about 1,000,000 events)")
	c.AddCommand(ing)
	return c
}

func (a *app) benchIngest(ctx context.Context, components, days int) error {
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
	for _, name := range []string{"bench_yardstick", "bench_client"} {
		if err := freshDatabase(ctx, srv.Addr, name); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// Yardstick: a child process, so its peak memory is its own.
	yCmd := exec.CommandContext(ctx, self, "--clickhouse", "clickhouse://"+srv.Addr+"/bench_yardstick", "--log-level", "warn", "ingest", ours)
	var yOut strings.Builder
	yCmd.Stdout, yCmd.Stderr = &yOut, a.errOut
	yStart, ySrv := time.Now(), processCPU(srv.PID)
	if err := yCmd.Run(); err != nil {
		return fmt.Errorf("yardstick ingest: %w", err)
	}
	yTook, ySrv := time.Since(yStart), processCPU(srv.PID)-ySrv
	yCPU := yCmd.ProcessState.UserTime() + yCmd.ProcessState.SystemTime()
	// The child reports its own high-water mark: rusage's maxrss would count the
	// memory of this process at fork time.
	var peakMB float64
	if i := strings.Index(yOut.String(), "peak memory "); i >= 0 {
		fmt.Sscanf(yOut.String()[i:], "peak memory %f MB", &peakMB)
	}

	host, port, _ := strings.Cut(srv.Addr, ":")
	argv := strings.Fields(client)
	argv = append(argv, "--host", host, "--port", port, "--database", "bench_client",
		"--query", "INSERT INTO events (source, type, scope, id, time, actor, num_keys, num_values, str_keys, str_values, related, version, deleted) FORMAT JSONEachRow")
	in, err := os.Open(theirs)
	if err != nil {
		return err
	}
	defer in.Close()
	cCmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cCmd.Stdin, cCmd.Stderr = in, a.errOut
	cStart, cSrv := time.Now(), processCPU(srv.PID)
	if err := cCmd.Run(); err != nil {
		return fmt.Errorf("clickhouse-client insert: %w", err)
	}
	cTook, cSrv := time.Since(cStart), processCPU(srv.PID)-cSrv
	cCPU := cCmd.ProcessState.UserTime() + cCmd.ProcessState.SystemTime()

	for _, name := range []string{"bench_yardstick", "bench_client"} {
		got, err := countEvents(ctx, srv.Addr, name)
		if err != nil {
			return err
		}
		if got != uint64(n) {
			return fmt.Errorf("bench ingest: %s holds %d events, want %d", name, got, n)
		}
	}
	yRate, cRate := float64(n)/yTook.Seconds(), float64(n)/cTook.Seconds()
	fmt.Fprintf(a.out, "ingest of %d events (%d components, %d days)\n", n, components, days)
	fmt.Fprintf(a.out, "  yardstick ingest        %6.2fs  %9.0f events/s  peak RSS %.0f MB  (CPU: client %.1fs, server %.1fs)\n",
		yTook.Seconds(), yRate, peakMB, yCPU.Seconds(), ySrv.Seconds())
	fmt.Fprintf(a.out, "  clickhouse-client JSON  %6.2fs  %9.0f events/s                (CPU: client %.1fs, server %.1fs)\n",
		cTook.Seconds(), cRate, cCPU.Seconds(), cSrv.Seconds())
	fmt.Fprintf(a.out, "  ratio (yardstick / clickhouse-client) %.2f (target >= 1.0), peak memory target < 300 MB\n", yRate/cRate)
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
