# nmigw build and test entry points. `make test` is what CI runs.
GO ?= go

.PHONY: build test test-go test-deploy test-clients test-e2e test-s390x go-floor lint vet staticcheck fmt-check run sim bench fuzz

# Go modules beside the main one: the deployment files' tests, the generated Go client, and the tests
# whose heavy dependencies (chromedp, prometheus/prometheus) need a newer Go than the gateway's floor.
SUBMODULES = deploy clients/go e2e

# staticcheck, pinned; `go run` fetches it through the module proxy.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

build:
	$(GO) build ./...

# Everything CI checks: formatting, vet, staticcheck, the toolchain floor, the race-enabled test suite
# of the modules, the codec's and the simulator's tests on big-endian s390x, and the API lint.
test: fmt-check vet staticcheck go-floor test-go test-deploy test-clients test-e2e test-s390x lint

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	@for m in $(SUBMODULES); do if [ -f $$m/go.mod ]; then (cd $$m && $(GO) vet ./...) || exit 1; fi; done

staticcheck:
	$(STATICCHECK) ./...
	@for m in $(SUBMODULES); do if [ -f $$m/go.mod ]; then (cd $$m && $(STATICCHECK) ./...) || exit 1; fi; done

test-go:
	$(GO) test -race -count=1 ./...

test-deploy:
	@if [ -f deploy/go.mod ]; then cd deploy && $(GO) test -count=1 ./...; fi

# The generated clients (Go, TypeScript) up to date with api/openapi.yaml and working against the
# gateway, and ogen's client of the document making a few calls.
test-clients:
	@if [ -f clients/go/go.mod ]; then cd clients/go && $(GO) test -race -count=1 ./...; fi
	@if [ -f clients/ts/package.json ]; then GO=$(GO) scripts/test-ts-client; fi
	@if [ -x scripts/check-ogen ]; then GO=$(GO) scripts/check-ogen; fi

# The dashboard in Chromium, and the Prometheus rules and Grafana dashboard against a running gateway.
test-e2e:
	@if [ -f e2e/go.mod ]; then cd e2e && GO=$(GO) $(GO) test -race -count=1 ./...; fi

# No module of the gateway's build list may need a newer Go than IBM's Go for z/OS (deploy/zos).
go-floor:
	GO=$(GO) scripts/check-go-floor

# The codec's and the simulator's tests for GOARCH=s390x under qemu-s390x-static (qemu-user-static).
test-s390x:
	GO=$(GO) scripts/test-s390x

lint:
	@if [ -x scripts/lint-openapi ]; then scripts/lint-openapi; fi

run:
	$(GO) run ./cmd/gateway -sim

sim:
	$(GO) run ./cmd/iked-sim --socket ./ipsecmgmt.sock

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/nmi/...
