# webhook-gateway: the two commands a new user needs are `make run` and `make test`.
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data

.PHONY: run test build deps bench-http clean

# libcurl's headers (and pkg-config) are the only system packages the build needs.
deps:
	@scripts/ensure-tools.sh libcurl

build: deps
	swift build -c release --product gatewayd

## Build in release mode and start gatewayd on its embedded storage in $(DATA_DIR).
run: build
	"$$(swift build -c release --show-bin-path)/gatewayd" serve --listen $(LISTEN) --data-dir $(DATA_DIR)

## The whole test suite.
test: deps
	swift test

## HTTP ceiling benchmark: our server vs nginx, alternating (see BENCHMARKS.md).
bench-http: deps
	Benchmarks/http_vs_nginx.sh

clean:
	rm -rf .build Benchmarks/out
