package catalog_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick/collectors/catalog"
	"github.com/yardstick-dev/yardstick/fixtures"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// BenchmarkImport20kEntities imports the generated organisation of 8,000
// components (21,084 entities), each spec padded with a 2.3 kB note so the
// file is 53 MB like the catalog of the issue, into a fresh database, and
// reports the process's peak RSS during the import (VmHWM, reset before it).
func BenchmarkImport20kEntities(b *testing.B) {
	path := mustBigCatalog(b, 8000)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var peak float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := storetest.NewDB(b)
		resetPeakRSS(b)
		b.StartTimer()
		scan, err := (&catalog.Importer{}).Read(ctx, catalog.PathSource(path))
		if err != nil {
			b.Fatal(err)
		}
		ch, _, err := db.SyncSource(ctx, scan.Source, scan, store.SyncOptions{Replace: true})
		scan.Close()
		if err != nil || ch.Added != scan.Len() || scan.Err() != nil {
			b.Fatalf("import = %+v, %v, scan errors %v", ch, err, scan.Err())
		}
		b.StopTimer()
		peak = max(peak, peakRSSMB(b))
		b.ReportMetric(float64(scan.Len()), "entities")
	}
	b.ReportMetric(peak, "peak-RSS-MB")
	b.ReportMetric(float64(info.Size())/1e6, "file-MB")
}

func mustBigCatalog(b *testing.B, components int) string {
	b.Helper()
	var buf bytes.Buffer
	if err := fixtures.Generate(fixtures.GenConfig{Components: components, Days: 1}).WriteCatalog(&buf); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "catalog.yaml")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	note := `  notes: "` + strings.Repeat("Lorem ipsum dolor sit amet consectetur adipiscing. ", 44) + "\"\n"
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		w.Write(sc.Bytes())
		w.WriteByte('\n')
		if sc.Text() == "spec:" {
			w.WriteString(note)
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to /proc/self/clear_refs).
func resetPeakRSS(b *testing.B) {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset peak RSS: %v", err)
	}
}

func peakRSSMB(b *testing.B) float64 {
	b.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
