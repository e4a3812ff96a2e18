package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

// binary is the yardstick binary TestMain builds for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "yardstick-e2e-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "yardstick")
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goCmd, "build", "-o", binary, "github.com/yardstick-dev/yardstick/cmd/yardstick").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build yardstick: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := storetest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// yardstickCmd returns the yardstick command line args as a child process.
// Its statements are recorded when the tests' are (YARDSTICK_RECORD_STATEMENTS).
func yardstickCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "YS_TEST_GITHUB_TOKEN=t")
	return cmd
}

// killableCmd is yardstickCmd for a child the test kills: one killed
// mid-write would leave a torn line in its statement recording, so it records
// none (the statements it sends are the store's, recorded by the store's own
// tests).
func killableCmd(args ...string) *exec.Cmd {
	cmd := yardstickCmd(args...)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, store.RecordStatementsEnv+"=") })
	return cmd
}

// dsn is the address of db for the binary's --clickhouse flag.
func dsn(t testing.TB, db *store.DB) string {
	return "clickhouse://" + storetest.Addr(t) + "/" + db.Database()
}

// mustCLI returns a function that runs the yardstick command line against a
// fresh database of the test ClickHouse, with the given config file body.
func mustCLI(t *testing.T, config string) func(args ...string) (code int, stdout, stderr string) {
	t.Helper()
	db := storetest.NewDB(t)
	cfg := mustWriteFile(t, filepath.Join(t.TempDir(), "yardstick.yaml"), config)
	return func(args ...string) (int, string, string) {
		return runYardstick(t, append([]string{"--config", cfg, "--clickhouse", dsn(t, db), "--log-level", "error"}, args...)...)
	}
}

// runYardstick runs the yardstick command line args and returns its exit
// code and output; -1 when it could not run. Safe to call from goroutines.
func runYardstick(t *testing.T, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	cmd := yardstickCmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var exit *exec.ExitError
	if err := cmd.Run(); err != nil && !errors.As(err, &exit) {
		t.Errorf("yardstick %v: %v", args, err)
		return -1, out.String(), errOut.String()
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// mustWriteFile writes body to path, creating its folder, and returns path.
func mustWriteFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
