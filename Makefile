# Two commands on a fresh machine: `make run` and `make test`. Each installs what
# it needs first (ClickHouse from Debian's packages; Chromium for the browser test),
# downloads the Go modules and builds.

GO       ?= go
BIN      := bin/yardstick
DATA_DIR ?= .yardstick
# Debian puts clickhouse-server in /usr/sbin, which is not on every PATH.
export PATH := $(PATH):/usr/sbin

.PHONY: all setup clickhouse chromium zookeeper modules build run demo-once test bench clean

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

test: setup chromium zookeeper
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

# Go benchmarks print their figures through b.ReportMetric; `yardstick bench`
# measures what needs whole processes (ingest against clickhouse-client).
# BenchmarkPageData builds a 1,000-component organisation of about 10M events;
# YARDSTICK_BENCH_EVENTS=100000000 make bench builds one of about 100M (streamed
# into ClickHouse, never held in memory). BenchmarkClusterPageData (store/clustertest)
# prints the same metric reads on the 2-shard cluster beside one server.
bench: setup build
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./...
	./$(BIN) --data-dir $(DATA_DIR)/bench --log-level warn bench ingest

clean:
	rm -rf bin
