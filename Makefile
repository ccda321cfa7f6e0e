# `make test` (the README's test command) prepares what the tests need and runs them;
# `make run` is a shortcut for `go run ./cmd/faultline run`, the embedded default.
GO ?= go

.PHONY: run test bench build

run:
	$(GO) run ./cmd/faultline run

build:
	$(GO) build -o faultline ./cmd/faultline

# Packages run one at a time (-p 1): the docker tests list and remove the
# engine's labelled objects, which would race another package's run.
test:
	./scripts/prepare-tests
	$(GO) vet ./...
	test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)
	$(GO) test -p 1 -count=1 -timeout 25m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/controller ./checkers ./results/...
