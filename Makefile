# PRF: the two commands that matter are `make demo` and `make test`.
GO      ?= go
BIN     := bin/prf
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Packages that run things concurrently get the race detector.
RACE_PKGS := ./cmd/prf/... ./internal/runner/... ./internal/probe/... ./internal/store/... ./internal/report/... ./internal/demo/... ./internal/catalog/... ./internal/proc/... ./internal/loadtest/... ./internal/audit/... ./internal/signoff/... ./internal/risk/... ./internal/change/...

.PHONY: all build demo test test-deps vet fmt-check bench fuzz clean prior

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/prf

## demo: start the local reference system, run the built-in catalogue against it, store and print the report
demo: build
	./$(BIN) demo

## test: everything CI runs (installs what it needs first)
test: test-deps fmt-check vet
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)

# Tests need only Go and the module proxy today; system packages the probes
# of later issues need (redis-server, prometheus, ...) are installed here,
# once, quietly and idempotently.
test-deps:
	@./scripts/test-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## prior: retrain the embedded prior risk model from ../shared/data (a test checks it byte for byte)
SHARED ?= ../shared/data
prior:
	$(GO) run ./cmd/prf risk train --public $(SHARED) --out internal/risk/prior.json

## bench: the numbers quoted in issue notes
bench:
	./bench/run.sh
	./bench/loadtest.sh

## fuzz: a short fuzzing pass over the parsers
fuzz:
	$(GO) test -run x -fuzz FuzzParse -fuzztime 60s ./internal/checklist/
	$(GO) test -run x -fuzz FuzzCompileEval -fuzztime 60s ./internal/expect/

clean:
	rm -rf bin .prf
