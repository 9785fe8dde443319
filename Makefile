# realname — make targets. `make help` lists them.

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
BIN       ?= bin/realname
STATICCHECK ?= v0.8.2

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build the realname binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/realname

.PHONY: test
test: ## run every test with the race detector (what CI runs)
	$(GO) test -race -count=1 $(PKGS)

.PHONY: lint
lint: ## gofmt, go vet, and staticcheck when it can be installed
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) -version >/dev/null 2>&1; then \
		$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) $(PKGS); \
	else echo "staticcheck: not installable here, skipped"; fi

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

BENCH_ROWS ?= 1000000
BENCH_PLOT ?= bin/bench-calls.svg

# The pipeline harness runs the bulk enqueue harness (internal/bench/enqueue)
# first, as a subprocess, with its output as before, and puts its figures in
# its own table: one run, one table, and the million rows enqueued once.
.PHONY: bench
bench: ## run the Go benchmarks, then the bulk enqueue (BENCH_ROWS rows, default 1,000,000) and pipeline harnesses
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)
	$(GO) run ./internal/bench/pipeline -enqueue-rows $(BENCH_ROWS) -plot $(BENCH_PLOT)

.PHONY: bench-short
bench-short: ## the pipeline harness in its short mode, under two minutes (no Go benchmarks)
	$(GO) run ./internal/bench/pipeline -short -plot $(BENCH_PLOT)

# The fault injection (internal/chaos): kill -9 of workers, Redis restarts
# (SIGTERM and kill -9, from its AOF), the webhook receiver away, the
# provider down, wrong credentials; it asserts the invariants on the
# sandbox's meter, the results and the events, and exits 1 when one fails.
# CI runs the short one through `make test` (TestChaosShort).
.PHONY: chaos
chaos: ## inject faults into the whole pipeline and assert the invariants (about ten minutes)
	$(GO) run ./internal/chaos

.PHONY: chaos-short
chaos-short: ## the fault injection in its short mode, under two minutes
	$(GO) run ./internal/chaos -short
