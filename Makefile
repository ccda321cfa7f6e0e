# `make test` (the README's test command) prepares what the tests need and runs them;
# `make run` is a shortcut for `go run ./cmd/faultline run`, the embedded default.
GO ?= go

# Packages whose tests need a Docker engine (one of their tests calls
# testenv.NeedDocker) and the rest, which run under the race detector.
DOCKER_PKGS = $(shell ./scripts/test-packages docker)
NODOCKER_PKGS = $(shell ./scripts/test-packages nodocker)

.PHONY: run test vet bench build

run:
	$(GO) run ./cmd/faultline run

build:
	$(GO) build -o faultline ./cmd/faultline

# vet, gofmt, and the macOS build (the local provider has Linux-only parts).
vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	GOOS=darwin $(GO) vet ./...
	test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: files above need formatting" && exit 1)

# Packages run one at a time (-p 1): the docker tests list and remove the
# engine's labelled objects, which would race another package's run; the
# others too, so that their deadlines hold on a 2-core machine.
test:
	./scripts/prepare-tests
	$(MAKE) vet
	$(GO) test -race -p 1 -count=1 -timeout 25m $(NODOCKER_PKGS)
	$(GO) test -p 1 -count=1 -timeout 45m $(DOCKER_PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/controller ./checkers ./results/...
