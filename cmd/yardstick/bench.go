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
	"syscall"
	"time"

	"github.com/spf13/cobra"

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
	yCmd.Stderr = a.errOut
	yStart := time.Now()
	if err := yCmd.Run(); err != nil {
		return fmt.Errorf("yardstick ingest: %w", err)
	}
	yTook := time.Since(yStart)
	peakMB := float64(yCmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024

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
	cStart := time.Now()
	if err := cCmd.Run(); err != nil {
		return fmt.Errorf("clickhouse-client insert: %w", err)
	}
	cTook := time.Since(cStart)

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
	fmt.Fprintf(a.out, "  yardstick ingest        %6.2fs  %9.0f events/s  peak RSS %.0f MB\n", yTook.Seconds(), yRate, peakMB)
	fmt.Fprintf(a.out, "  clickhouse-client JSON  %6.2fs  %9.0f events/s\n", cTook.Seconds(), cRate)
	fmt.Fprintf(a.out, "  ratio (yardstick / clickhouse-client) %.2f (target >= 1.0), peak memory target < 300 MB\n", yRate/cRate)
	return nil
}

// writeBenchFiles writes the same events twice: as `yardstick ingest` reads
// them, and as rows of the events table for clickhouse-client's JSONEachRow.
func writeBenchFiles(org *fixtures.Org, ours, theirs string) (int, error) {
	f, err := os.Create(ours)
	if err != nil {
		return 0, err
	}
	n, err := org.WriteEvents(f)
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
	defer g.Close()
	w := bufio.NewWriterSize(g, 1<<20)
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
	for _, e := range org.Events() {
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
		if err := enc.Encode(r); err != nil {
			return 0, err
		}
	}
	return n, w.Flush()
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
