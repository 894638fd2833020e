# nmigw build and test entry points. `make test` is what CI runs.
GO ?= go

.PHONY: build test test-go test-deploy lint vet staticcheck fmt-check run sim bench fuzz

# staticcheck, pinned; `go run` fetches it through the module proxy.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

build:
	$(GO) build ./...

# Everything CI checks: formatting, vet, staticcheck, the race-enabled test suite of both modules, and
# the API lint.
test: fmt-check vet staticcheck test-go test-deploy lint

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...
	@if [ -f deploy/go.mod ]; then cd deploy && $(STATICCHECK) ./...; fi

test-go:
	$(GO) test -race -count=1 ./...

test-deploy:
	@if [ -f deploy/go.mod ]; then cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...; fi

lint:
	@if [ -x scripts/lint-openapi ]; then scripts/lint-openapi; fi

run:
	$(GO) run ./cmd/gateway -sim

sim:
	$(GO) run ./cmd/iked-sim --socket ./ipsecmgmt.sock

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/nmi/...
