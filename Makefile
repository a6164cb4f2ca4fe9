# webhook-gateway: the two commands a new user needs are `make run` and `make test`.
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data

.PHONY: run test build deps bench-http bench-ingest bench-ingest-ab bench-fsync bench-subscriptions bench-tenants bench-inbound bench-cluster bench-restart bench-fanout bench-fanout-ab bench-latency bench-pending bench-isolation bench-history bench-soak crash-test chaos cluster-demo clean

# libcurl's and libpq's headers (and pkg-config) are the only system packages the build needs.
deps:
	@scripts/ensure-tools.sh libcurl libpq

build: deps
	swift build -c release --product gatewayd

## Build in release mode and start gatewayd on its embedded storage in $(DATA_DIR); more
## settings with ARGS, e.g. make run ARGS="--allow-private-targets --retention 3d".
ARGS ?=
run: build
	"$$(swift build -c release --show-bin-path)/gatewayd" serve --listen $(LISTEN) --data-dir $(DATA_DIR) $(ARGS)

## The whole test suite; then the PostgreSQL phase (GATEWAY_TEST_BACKEND=postgres): the API
## suites again with every gateway a cluster-mode node, and the cluster's own suites (which
## the first run lists as skipped) — or a line saying it was skipped where a throwaway
## PostgreSQL cannot start.
CLUSTER_API_SUITES = AccessAndTypesAPITests|EventsAPITests|SubscriptionsTests|ReplaysAPITests|TenantsAPITests|TenantIsolationTests|TenantAddressingTests|InboundAPITests|OpenAPITokensTests|HealthAPITests|DeliveryLedgerTests|TenantDurabilityTests|ClusterStoreTests|ClusterNodeTests|TestPostgresTests
test: deps
	swift test
	@if scripts/pg-throwaway.sh available >/dev/null 2>&1; then \
	  echo "The PostgreSQL phase: the API suites on cluster mode, and the cluster's own suites:"; \
	  GATEWAY_TEST_BACKEND=postgres swift test --skip-build --filter '$(CLUSTER_API_SUITES)'; \
	else \
	  echo "SKIPPED: the PostgreSQL phase (the API suites on cluster mode, the cluster's own suites): $$(scripts/pg-throwaway.sh available 2>&1 | tail -1)"; \
	fi

## HTTP ceiling benchmark: our server vs nginx, alternating (see BENCHMARKS.md).
bench-http: deps
	Benchmarks/http_vs_nginx.sh

## Durable ingest vs nginx's static 202 and Redis appendfsync always (see BENCHMARKS.md).
bench-ingest: deps
	Benchmarks/ingest_vs_nginx_redis.sh

## Two gatewayd builds alternating on durable ingest, with Redis always: make bench-ingest-ab A=path B=path.
bench-ingest-ab: deps
	Benchmarks/ingest_ab.sh $(A) $(B)

## fdatasync latency on this disk: appending vs overwriting prepared zeros (see BENCHMARKS.md).
bench-fsync:
	Benchmarks/fsync_probe.sh

## Ingest with 10,000 subscriptions that do not match, against none (see BENCHMARKS.md).
bench-subscriptions: deps
	Benchmarks/subscriptions_scale.sh

## 10,000 tenants x 2 subscriptions: ingest routed by tenant, and fan-out (see BENCHMARKS.md).
bench-tenants: deps
	Benchmarks/tenants_scale.sh

## POST /in/{source} with GitHub verification against POST /v1/events (see BENCHMARKS.md).
bench-inbound: deps
	Benchmarks/inbound_github.sh

## Restart time and RSS with 1 M events in the journal (see BENCHMARKS.md).
bench-restart: deps
	Benchmarks/restart_1m.sh

## Fan-out throughput vs a libcurl multi C reference (see BENCHMARKS.md).
bench-fanout: deps
	Benchmarks/fanout.sh

## Cluster mode on PostgreSQL against the embedded journal: ingest, fan-out, takeover (see BENCHMARKS.md).
bench-cluster: deps
	Benchmarks/cluster.sh

## Two gatewayd builds alternating on the same fan-out: make bench-fanout-ab A=path B=path.
bench-fanout-ab: deps
	Benchmarks/fanout_ab.sh $(A) $(B)

## Commit-to-receipt delivery latency at ~5,000 events/s with 3 subscriptions (see BENCHMARKS.md).
bench-latency: deps
	Benchmarks/latency.sh

## RSS with 1 M deliveries pending for a subscriber that is down (see BENCHMARKS.md).
bench-pending: deps
	Benchmarks/pending_memory.sh

## Memory, restart time and lookups with 200 k and 20 M retained events (see BENCHMARKS.md).
bench-history: deps
	Benchmarks/history_scale.sh

## 30 minutes at a steady rate with --retention 2m: RSS and disk slopes (see BENCHMARKS.md).
bench-soak: deps
	Benchmarks/soak.sh

## A healthy subscriber's throughput beside a 5 s-slow and a refusing one (see BENCHMARKS.md).
bench-isolation: deps
	Benchmarks/isolation.sh

## kill -9 gatewayd at random moments while clients publish, many rounds (CRASH_ROUNDS).
CRASH_ROUNDS ?= 50
crash-test: deps
	swift build
	CRASH_ROUNDS=$(CRASH_ROUNDS) swift test --filter CrashTests

## Three cluster nodes on a throwaway PostgreSQL under load, SIGKILLed at random, PostgreSQL
## restarted once; checks nothing acknowledged was lost (CHAOS_SECONDS, CHAOS_RATE, CHAOS_SEED).
chaos: build
	Benchmarks/chaos.sh

## Three nodes on a throwaway PostgreSQL in ./cluster-demo, behind nginx on 127.0.0.1:8080;
## prints what to try, runs until Ctrl-C (scripts/cluster-demo.sh stop ends one left running).
cluster-demo: build
	scripts/cluster-demo.sh

clean:
	rm -rf .build Benchmarks/out
