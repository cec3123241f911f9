# widget-sessions. `make run` serves the embedded default; `make test` is
# what CI runs (.ci/run).
GO      ?= go
BIN     ?= bin
BENCHTIME ?= 1s
# pkg/ is a module of its own (github.com/causeflow/widget-sessions/pkg, the
# one outside code imports); the service's module requires it through a
# replace. `./...` stops at a module's edge, so each target runs in both.
INPKG   := cd pkg &&
# pkg/etcd is a third module (github.com/causeflow/widget-sessions/pkg/etcd):
# the etcd mirror a gateway of several regions imports, apart so that a
# gateway on Redis never inherits etcd's client. Its tests run in the
# service's module (internal/etcdstore), which has etcd's server.
INETCD  := cd pkg/etcd &&

.PHONY: test-regions sdk-pack all build run lint lint-deps image image-deps test-image check-rules check-rules-deps test test-deps test-browser browser-deps test-faults vet bench load load-deps load-streams fuzz config-table clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/widget-sessions ./cmd/wsctl

# The embedded default: in-memory key, dev identity provider, demo directory.
run:
	$(GO) run ./cmd/widget-sessions

vet:
	@unformatted=$$(gofmt -l cmd pkg internal); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(INPKG) $(GO) vet ./...
	$(INETCD) $(GO) vet ./...
	$(GO) vet -tags browser ./cmd/widget-sessions/
	$(GO) vet -tags faults ./cmd/widget-sessions/ ./internal/redisstore/
	$(INPKG) $(GO) vet -tags faults ./redis/...
	$(GO) vet -tags image ./cmd/widget-sessions/
	$(GO) vet -tags regions ./cmd/widget-sessions/

test: vet lint test-deps
	$(GO) test -race -count=1 ./...
	$(INPKG) $(GO) test -race -count=1 ./...
	@# Every library benchmark runs once, so `make bench` cannot rot unnoticed.
	$(GO) test -run '^$$' -bench . -benchtime 1x ./internal/... > /dev/null
	$(INPKG) $(GO) test -run '^$$' -bench . -benchtime 1x ./... > /dev/null

# Every install target goes through .ci/need COMMAND:PACKAGE: apt installs
# the package of each command missing from PATH, and nothing that is
# present is reinstalled or replaced (TestInstallTargets runs each target
# with its tools hidden). CI runs as root on Debian.
NEED := $(CURDIR)/.ci/need

# Lint: staticcheck (pinned, through go run: nothing installed by hand)
# on every build tag's files, and openapi.yaml under Redocly's recommended
# rules (pinned, from npm into bin/lint). Both fail on any error.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
REDOCLY ?= @redocly/cli@2.77.0
lint: lint-deps
	$(GO) run $(STATICCHECK) ./...
	$(INPKG) $(GO) run $(STATICCHECK) ./...
	$(INETCD) $(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags browser,faults,image,regions ./cmd/widget-sessions/ ./internal/redisstore/
	$(INPKG) $(GO) run $(STATICCHECK) -tags faults ./redis/...
	$(BIN)/lint/node_modules/.bin/redocly lint --format=stylish openapi.yaml

lint-deps:
	@$(NEED) node:- npm:-
	@test -x $(BIN)/lint/node_modules/.bin/redocly || \
		npm install --silent --no-audit --no-fund --prefix $(BIN)/lint $(REDOCLY)

# The Redis tests start a real redis-server; they fail, not skip, without
# one.
test-deps:
	@$(NEED) redis-server:redis-server

# The widget in real browsers: headless Chromium (driven with chromedp), and
# the two cross-engine scenarios (light and English: mount, ask, stream, cut
# and resume, stop, renew the session; dark and Arabic: right to left, the
# theme, feedback, a resume) with axe-core in Chromium, Firefox ESR
# (WebDriver BiDi) and WebKitGTK (W3C WebDriver under xvfb-run); the six
# locales; sdk.d.ts checked by TypeScript; the npm package (npm pack, a
# TypeScript consumer, a React app bundled by esbuild). Screenshots land in
# artifacts/. Behind the `browser` build tag
# so that `make test` needs no browser; CI (.ci/run) runs both.
test-browser: browser-deps
	$(GO) test -race -count=1 -tags browser -run TestBrowser ./cmd/widget-sessions/

# From npm, pinned, into bin/node: TypeScript (to check sdk.d.ts as a host's
# compiler would) and axe-core (the accessibility scan the browser tests run
# inside the widget's page). Nothing is downloaded when the tests run.
# puppeteer-core drives Firefox over WebDriver BiDi; it downloads no browser.
# React, React DOM, React's types and esbuild are what a customer's
# frontend has: the npm package's tests compile a TypeScript consumer
# against it and bundle a React app that mounts its component.
NPM_TOOLS ?= typescript@5.9.3 axe-core@4.14.1 puppeteer-core@25.16.0 react@19.3.1 react-dom@19.3.1 @types/react@19.3.3 esbuild@0.28.2
# The three engines: Chromium, Firefox ESR, and WebKitGTK (its WebDriver,
# and Xvfb: its MiniBrowser has no headless mode). Node.js and npm are the
# machine's own (never apt's: its nodejs conflicts with npm), so they are
# required, not installed.
browser-deps:
	@$(NEED) node:- npm:- chromium:chromium firefox-esr:firefox-esr WebKitWebDriver:webkit2gtk-driver xvfb-run:xvfb xauth:xauth
	@test -x $(BIN)/node/node_modules/.bin/tsc -a -f $(BIN)/node/node_modules/axe-core/axe.min.js -a -d $(BIN)/node/node_modules/puppeteer-core \
		-a -d $(BIN)/node/node_modules/react-dom -a -d $(BIN)/node/node_modules/@types/react -a -x $(BIN)/node/node_modules/.bin/esbuild || \
		npm install --silent --no-audit --no-fund --prefix $(BIN)/node $(NPM_TOOLS)

# The widget's npm package (sdk/js, @causeflow/widget) as a tarball in
# build/, to install in a frontend: npm install ./build/causeflow-widget-*.tgz.
sdk-pack:
	@$(NEED) node:- npm:-
	mkdir -p build && npm pack --silent --pack-destination build ./sdk/js

# Three regions on this machine (as root): each a network namespace with an
# etcd member, a Redis with a replica and a service replica, linked through
# delaying proxies (50 ms round trips); a region killed, cut off (the
# leader's too), a member wiped and rejoined, with a checker throughout.
# The figures land in artifacts/regions.txt. See docs/multi-region.md.
test-regions: test-deps
	@$(NEED) ip:iproute2
	$(GO) test -count=1 -tags regions -run TestRegions -v ./cmd/widget-sessions/

# The container image (deploy/Containerfile), built with podman from static
# binaries and the host's CA certificates: no registry is reached.
# test-image runs it as CI does: read-only, every capability dropped, as a
# non-root user; checks /healthz, a mint, and a clean drain on SIGTERM.
IMAGE ?= localhost/widget-sessions:dev
export CONTAINERS_CONF := $(CURDIR)/deploy/podman/containers.conf
image-deps:
	@$(NEED) podman:podman runc:runc

image: image-deps
	rm -rf build/image && mkdir -p build/image/etc/ssl/certs
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o build/image/ ./cmd/widget-sessions ./cmd/wsctl
	cp /etc/ssl/certs/ca-certificates.crt build/image/etc/ssl/certs/
	printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > build/image/etc/passwd
	printf 'root:x:0:\nnonroot:x:65532:\n' > build/image/etc/group
	podman build --quiet -f deploy/Containerfile -t $(IMAGE) build/image

test-image: image
	$(GO) test -count=1 -tags image -run TestImage -v ./cmd/widget-sessions/

# The alert rules (deploy/prometheus) checked by Debian's promtool: valid,
# and each alert fires on the series meant to fire it (alerts_test.yaml).
# A Go test (make test) checks that every metric the rules and the Grafana
# dashboard name exists.
check-rules: check-rules-deps
	promtool check rules deploy/prometheus/alerts.yaml
	cd deploy/prometheus && promtool test rules alerts_test.yaml

check-rules-deps:
	@$(NEED) promtool:prometheus

# The fuzz tests beyond their seeds (which `make test` runs): the session
# token verifier against jwx (anything Verify accepts, jws.Verify and
# jwt.Parse accept too), the JWK Set decoder against jwx (any key
# jwks.Parse reads, jwk.Parse reads alike), the verifier's claims fast path against encoding/json, the
# request bodies' fast paths (strictjson, the introspection form) against
# encoding/json and net/url, and the hot paths' JSON writer (jsonwrite,
# the claims, its word-at-a-time Plain) against encoding/json.
# A failure leaves the input under its package's testdata/fuzz/.
# Budgets are counts of inputs, about 15 s each here, not durations: Go
# 1.26's fuzz coordinator can fail a run whose -fuzztime ends while a worker
# is mid-input, "context deadline exceeded" with nothing found
# (go.dev/issue/75804, fixed in 1.27); a count has no deadline to race.
# FUZZX multiplies them.
FUZZX ?= 1
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzAgreesWithJWX$$' -fuzztime $$((50000 * $(FUZZX)))x ./internal/jwxcheck/
	$(GO) test -run '^$$' -fuzz '^FuzzJWKSAgreesWithJWX$$' -fuzztime $$((100000 * $(FUZZX)))x ./internal/jwxcheck/
	$(INPKG) $(GO) test -run '^$$' -fuzz '^FuzzDecodeClaims$$' -fuzztime $$((130000 * $(FUZZX)))x ./verify/
	$(GO) test -run '^$$' -fuzz '^FuzzFlatAgrees$$' -fuzztime $$((800000 * $(FUZZX)))x ./internal/strictjson/
	$(GO) test -run '^$$' -fuzz '^FuzzPlainTokenForm$$' -fuzztime $$((25000 * $(FUZZX)))x ./internal/api/
	$(GO) test -run '^$$' -fuzz '^FuzzIntrospectionEncode$$' -fuzztime $$((12000 * $(FUZZX)))x ./internal/api/
	$(INPKG) $(GO) test -run '^$$' -fuzz '^FuzzAgreesWithEncodingJSON$$' -fuzztime $$((150000 * $(FUZZX)))x ./jsonwrite/
	$(INPKG) $(GO) test -run '^$$' -fuzz '^FuzzPlainWords$$' -fuzztime $$((500000 * $(FUZZX)))x ./jsonwrite/
	$(INPKG) $(GO) test -run '^$$' -fuzz '^FuzzClaimsEncode$$' -fuzztime $$((100000 * $(FUZZX)))x ./token/

# The fault suite: real Redis topologies (a 6-node Cluster, Sentinel with
# its replicas) started on loopback, masters killed, and the bounds the
# service promises after a failover checked. Behind the `faults` build tag
# because it holds timing bounds, which `make test` never does; CI
# (.ci/run) runs it.
test-faults: test-deps
	$(INPKG) $(GO) test -race -count=1 -v -tags faults -run 'TestTopologies|TestTopologyContracts|TestFailover|TestFault|OnTopologies' ./redis/...
	$(GO) test -race -count=1 -v -tags faults -run 'TestTopologies|TestTopologyContracts|TestFailover|TestFault|OnTopologies' ./internal/redisstore/ ./cmd/widget-sessions/

# Benchmarks report figures next to a raw baseline measured in the same run
# (a bare Ed25519 sign or verify), so ratios, not absolute times, are
# compared. The Redis mirror benchmark starts its own redis-server.
bench: test-deps
	$(INPKG) $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./verify/ ./revoke/ ./redis/
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) \
		./internal/keys/ ./internal/session/ ./internal/api/ ./internal/redisstore/ ./internal/events/ ./internal/stream/ \
		./cmd/widget-sessions/

# The hot paths under load (cmd/wsload hot): mint on the in-memory stores,
# mint with an incident on Redis, and introspection on Redis, each against
# a bare net/http server doing the same crypto and JSON and nothing else
# (wsload bare-api), driven by wrk with the same requests. Each server is
# pinned to core 0 with GOMAXPROCS=1, wrk to core 1. It prints the ratio of
# throughputs (runs alone, alternating; and both at once sharing core 0)
# and latency percentiles. A measurement, not a test: never part of
# `make test`.
load: load-deps
	$(GO) build -o bin/widget-sessions ./cmd/widget-sessions
	$(GO) build -o bin/wsload ./cmd/wsload
	./bin/wsload hot -bin bin/widget-sessions

load-deps: test-deps
	@$(NEED) wrk:wrk taskset:util-linux

# The edge under load (cmd/wsload): STREAMS widget streams held on one
# replica pinned to one core, over a redis-server it starts; memory per
# stream against bare net/http held responses from the same run, idle CPU
# and Redis commands, first-delta and cross-replica revocation
# percentiles. A measurement, not a test: never part of `make test`.
STREAMS ?= 10000
load-streams: test-deps
	$(GO) build -o bin/widget-sessions ./cmd/widget-sessions
	$(GO) build -o bin/wsload ./cmd/wsload
	./bin/wsload streams -bin bin/widget-sessions -n $(STREAMS)

# Prints docs/configuration.md's table, generated from internal/config.
config-table:
	@$(GO) run ./cmd/widget-sessions -config-table

clean:
	rm -rf $(BIN)
