# nanobox-hcloud: the Hetzner Cloud adapter for Nanobox.
# `make run` starts the adapter on the embedded simulator; `make test` runs every test.

GO          ?= go
BIN         := $(CURDIR)/bin
# The VERSION file is the one source of every version; scripts/version adds
# -dev+g<commit> off a release tag (docs/releasing.md).
VERSION     := $(shell scripts/version)
LDFLAGS     := -s -w -X main.version=$(VERSION)
# Static binaries without urfave/cli's man/markdown generators: every CPI call is a
# process start, and those two flags take the dynamic loader and blackfriday's init
# off it (docs/benchmarks.md has the figures).
BUILDFLAGS  := -trimpath -tags urfave_cli_no_docs
export CGO_ENABLED := 0
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOCYCLO     := github.com/fzipp/gocyclo/cmd/gocyclo@v0.6.0
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
COMMANDS    := hcloud-sim nanobox-hcloud-cpi nanobox-cpi-shim
# The OCI image's labels (org.opencontainers.image.*); docs/deploy.md.
IMAGE_SOURCE   ?= https://github.com/nanobox-hcloud/nanobox-hcloud
IMAGE_LICENSES ?= Apache-2.0

# What make test runs besides Go, as command:Debian-package: the release's
# Ruby scripts, shellcheck on every shell script, systemd-analyze on the
# unit (release/deploy), chromium for the landing page, curl for make run,
# Debian's libcloud and pytest for the libcloud driver (a python3/<module>
# entry is a module /usr/bin/python3 must import). .ci/run installs the
# missing ones.
# The Vagrant provider's tests (release/vagrant): vagrant, rspec, and sshd,
# rsync and sudo for the guest its end-to-end test logs in to.
TEST_TOOLS  := ruby:ruby shellcheck:shellcheck systemd-analyze:systemd chromium:chromium curl:curl \
	python3/libcloud:python3-libcloud python3/pytest:python3-pytest
TEST_TOOLS  += vagrant:vagrant rspec:ruby-rspec sshd:openssh-server rsync:rsync sudo:sudo
# make dist-check (run by .ci/run after make test) builds the Python package's wheel.
TEST_TOOLS  += python3/setuptools:python3-setuptools python3/wheel:python3-wheel
# The contract test (scripts/contract): Dredd, installed with npm from the npm registry.
TEST_TOOLS  += node:nodejs npm:npm

# Tests that exec the binaries use these instead of building their own.
export NANOBOX_HCLOUD_BIN := $(BIN)

.PHONY: all build test contract test-tools missing-test-packages run lint docs bench soak fuzz release release-check image clean dist dist-check notices vagrant-plugin

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(COMMANDS))

test: test-tools build
	$(GO) test -count=1 -timeout 9m ./...
	cd scripts/benchtool && $(GO) test -count=1 ./...
	cd release/deploy && $(GO) test -count=1 -timeout 5m ./...
	PATH="$(BIN):$$PATH" PYTHONPATH=release/libcloud PYTHONDONTWRITEBYTECODE=1 \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider release/libcloud/tests
	cd release/vagrant && rspec
	bash scripts/contract/run

# The adapter's served /openapi.json replayed by Dredd, a Swagger contract
# tester (also the last step of make test).
contract: build
	bash scripts/contract/run

# Installs what is missing (as root or with passwordless sudo, in one line of
# output), else prints the two commands that do, instead of a failure per
# test that needs it.
test-tools:
	@bash scripts/test-tools $(TEST_TOOLS)

missing-test-packages:
	@for t in $(TEST_TOOLS); do bash scripts/test-tools --has $${t%%:*} || printf ' %s' $${t#*:}; done

run: build
	bash scripts/run

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@# No production function above cyclomatic 20 (tests and the development-only scripts/ aside).
	$(GO) run $(GOCYCLO) -over 20 -ignore '_test\.go$$|/testdata/' cmd cpi protocol release
	cd scripts/benchtool && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	cd release/deploy && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

# The docs derived from code: docs/configuration.md, the README's route and error tables, docs/protocol.md's method and error tables.
docs:
	$(GO) run ./cpi/internal/docgen

bench: build
	BENCHSTAT='$(GO) run $(BENCHSTAT)' bash scripts/bench

soak: build
	$(GO) test -count=1 -v -timeout 60m -run 'TestChaosLifecycles|TestBoshChaosLifecycles' ./cpi/internal/reliability -soak

fuzz:
	bash scripts/fuzz

release: build
	bash scripts/build-release

# The BOSH release's packages compiled offline as a compilation VM compiles
# them (golang-1-linux, then nanobox-hcloud), and both binaries run: about a
# minute, so not in make test; .ci/run runs it.
release-check:
	@work=$$(mktemp -d) && trap 'rm -rf "$$work"' EXIT && \
	  bash scripts/build-release --layout-only --compile-check --dir "$$work/release"

# The OCI image of the shim and the CPI, without a container daemon:
# bin/oci (an OCI image layout) and bin/nanobox-hcloud-image.tar (docker load).
image: build
	cd release/deploy && $(GO) run ./imagetool --bin $(BIN) --layout $(BIN)/oci --tar $(BIN)/nanobox-hcloud-image.tar \
	  --version $(VERSION) --revision $$(git rev-parse HEAD) --created $$(git log -1 --format=%cI) \
	  --source $(IMAGE_SOURCE) --licenses $(IMAGE_LICENSES)

# Everything a release publishes, reproducibly, into dist/ (docs/releasing.md).
dist:
	bash scripts/dist

# Two make dist runs give the same SHA256SUMS, and what they hold opens:
# both platforms of the image index, the tarballs, the SBOMs. Slow (it
# cross-compiles), so not in make test: .ci/run runs it after.
dist-check:
	cd release/deploy && $(GO) test -tags distcheck -count=1 -timeout 40m -run TestDist ./dist

# docs/third-party-notices.txt: the licences of what the released binaries
# embed, from their build information (a test fails when it is stale).
notices: build
	cd release/deploy && $(GO) run ./disttool notices --out $(CURDIR)/docs/third-party-notices.txt --module-dir $(CURDIR) \
	  --swagger-ui $(CURDIR)/protocol/shim/landing/swagger-ui $(BIN)/nanobox-cpi-shim $(BIN)/nanobox-hcloud-cpi

# The Vagrant provider's gem, built offline: bin/vagrant-nanobox-hcloud.gem
# (docs/vagrant.md installs it).
vagrant-plugin:
	@mkdir -p $(BIN)
	cd release/vagrant && gem build vagrant-nanobox-hcloud.gemspec --output $(BIN)/vagrant-nanobox-hcloud.gem

clean:
	rm -rf $(BIN) dist
