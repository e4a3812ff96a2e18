# Two commands on a fresh machine: `make run` and `make test`. Each installs what
# it needs first (ClickHouse from Debian's packages; Chromium for the browser test),
# downloads the Go modules and builds.

GO       ?= go
BIN      := bin/yardstick
DATA_DIR ?= .yardstick
# Debian puts clickhouse-server in /usr/sbin, which is not on every PATH.
export PATH := $(PATH):/usr/sbin

.PHONY: all setup clickhouse chromium zookeeper node chcheck-deps modules build run demo-once test bench fuzz clean

all: build

setup: clickhouse modules

clickhouse:
	@if command -v clickhouse >/dev/null 2>&1 || command -v clickhouse-server >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's clickhouse-server and clickhouse-client"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null; \
	else \
		echo "ClickHouse is not installed. Run: sudo apt-get install -y clickhouse-server clickhouse-client"; exit 1; \
	fi

chromium:
	@if command -v chromium >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium (for the browser test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is not installed. Run: sudo apt-get install -y chromium"; exit 1; \
	fi

# ZooKeeper (and the Java it runs on) for the cluster tests (store/clustertest),
# which start ZooKeeper and three ClickHouse servers on loopback.
zookeeper:
	@if [ -f /usr/share/java/zookeeper.jar ] && command -v java >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's zookeeper (for the cluster tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null; \
	else \
		echo "ZooKeeper is not installed. Run: sudo apt-get install -y zookeeper"; exit 1; \
	fi

# Node runs the statement check on current ClickHouse (chDB, from npm).
node:
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's nodejs and npm (for the statement check on current ClickHouse)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	else \
		echo "Node.js is not installed. Run: sudo apt-get install -y nodejs npm"; exit 1; \
	fi

CHCHECK    := store/chcheck
STATEMENTS := $(CURDIR)/.yardstick-test/statements

chcheck-deps: node $(CHCHECK)/node_modules/.package-lock.json

# npm ci refuses a lock that lacks the other platforms' optional chdb
# libraries, which a registry may not serve; npm install --no-save then
# installs the locked versions for this platform.
$(CHCHECK)/node_modules/.package-lock.json: $(CHCHECK)/package-lock.json
	cd $(CHCHECK) && (npm ci --no-audit --no-fund 2>/dev/null || npm install --no-save --no-audit --no-fund)
	@touch $@

modules:
	$(GO) mod download

build: modules
	$(GO) build -o $(BIN) ./cmd/yardstick

# The demo organisation end to end: local ClickHouse, catalog, collectors against
# in-process fakes, scoring, then the dashboard (Ctrl-C stops it).
run: setup build
	./$(BIN) --data-dir $(DATA_DIR) demo

demo-once: setup build
	./$(BIN) --data-dir $(DATA_DIR) demo --once

# go test runs on the installed ClickHouse (Debian's 18.16 is the floor) and
# records every distinct statement the store sends; the check then runs them,
# schema first, on current ClickHouse through chDB (store/chcheck).
test: setup chromium zookeeper chcheck-deps
	$(GO) vet ./...
	rm -rf $(STATEMENTS)
	YARDSTICK_RECORD_STATEMENTS=$(STATEMENTS) $(GO) test -count=1 -timeout 60m $$($(GO) list ./... | grep -v /store/clustertest)
	# The cluster (ZooKeeper and three ClickHouse servers) runs on its own: beside
	# the other packages' servers, 18.16 can miss its first ZooKeeper handshake.
	$(GO) test -count=1 -timeout 20m ./store/clustertest
	cd $(CHCHECK) && node --test && node check.mjs $(STATEMENTS)

# Go benchmarks print their figures through b.ReportMetric; `yardstick bench`
# measures what needs whole processes (ingest against clickhouse-client; a
# 10,000-component organisation scored and served, with page p95s and serve's RSS).
# BenchmarkPageData builds a 1,000-component organisation of about 10M events;
# YARDSTICK_BENCH_EVENTS=100000000 make bench builds one of about 100M (streamed
# into ClickHouse, never held in memory), and BenchmarkMetricRefresh one of
# 10,000 components and about 100M events (full and incremental refreshes).
# BenchmarkClusterPageData (store/clustertest) prints the same metric reads on
# the 2-shard cluster beside one server (YARDSTICK_CLUSTER_BENCH_EVENTS sizes it).
# The timeout is per package: at 100M events the store and ui packages took
# 20 and 19 minutes on 2 cores (2026-12-02), with room for a slower machine.
bench: setup zookeeper build
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 120m ./...
	./$(BIN) --data-dir $(DATA_DIR)/bench --log-level warn bench ingest
	./$(BIN) --data-dir $(DATA_DIR)/bench --log-level warn bench load --clients 20 --duration 60s
	./$(BIN) --data-dir $(DATA_DIR)/bench --log-level warn bench outage --stop 60s
	./$(BIN) --data-dir $(DATA_DIR)/bench --log-level warn bench org --components 10000 --days 14

# Each fuzz target runs for FUZZTIME, one after another (`make test` runs their
# seed corpora, testdata/fuzz/FuzzXxx, as ordinary tests). A crasher is saved
# under testdata/fuzz/FuzzXxx: commit it with the fix, as a seed.
FUZZTIME ?= 30s
# An input that finds new code is shrunk for at most this long; the default
# (60s) would use up a short run.
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS := \
	./collectors/catalog:FuzzParseDocuments \
	./collectors/ingest:FuzzParseLine \
	./collectors/ingest:FuzzSplit \
	./collectors/github:FuzzWebhookDelivery \
	./collectors/jira:FuzzWebhookPayload \
	./collectors/pagerduty:FuzzDecodeWebhook \
	./checks:FuzzLoadFile

fuzz: setup
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	done

clean:
	rm -rf bin
