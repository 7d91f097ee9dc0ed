# LightNVR — build, run and test. `make run` and `make test` are the two commands a
# newcomer needs; everything else is a step they call.
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# OTA keys (docs/ota.md, "Building a bundle"): OTA_PUBKEYS, base64 ed25519 public
# keys, comma separated, are built into lightnvr as the keys an update must be
# signed with; empty (the default for `make build mipsle`) = none. `make
# firmware` signs its bundle with the private key OTA_KEY and, unless
# OTA_PUBKEYS is given, bakes in OTA_KEY's public key (OTA_KEY.pub). The
# default OTA_KEY is a development key generated on first use under build/,
# which is never committed. OTA_MIN_VERSION is the bundle's min-version.
OTA_KEY         ?= build/ota-dev.key
OTA_PUBKEYS     ?=
OTA_MIN_VERSION ?=
LDFLAGS   := -s -w -X lightnvr/pkg/version.Version=$(VERSION) -X lightnvr/pkg/version.Commit=$(COMMIT) -X lightnvr/pkg/version.Date=$(DATE) $(if $(OTA_PUBKEYS),-X lightnvr/pkg/ota.bakedKeys=$(OTA_PUBKEYS))
GO2RTC_VERSION ?= v1.9.14
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
QEMU_USER ?= qemu-mipsel-static
# A real Ingenic kernel release string: Go 1.26.3/1.26.4 crashed parsing it.
INGENIC_UNAME ?= 3.10.14__isvp_swan_1.0__
DATA_DIR  ?= $(CURDIR)/data
FUZZTIME  ?= 5s
MIPSLE_ENV := CGO_ENABLED=0 GOARCH=mipsle GOMIPS=softfloat
# Inlining only where every access unit passes, segments aligned to the
# kernel's 4 KiB pages (scripts/mipsle-buildflags.sh says why): the binary has a budget.
MIPSLE_GCFLAGS := $(shell scripts/mipsle-buildflags.sh)
MIPSLE_LDFLAGS := $(shell scripts/mipsle-buildflags.sh ld)

.PHONY: build mipsle go2rtc run test check fmt-check vet staticcheck mod-check deadcode clones unit fuzz mipsle-test mipsle-start bench bench-record clean mipsle-keyed rootfs firmware qemu-test qemu-powercut qemu-scale

build: bin/lightnvr

bin/lightnvr: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/lightnvr

mipsle: FORCE
	scripts/webui-gz.sh
	$(MIPSLE_ENV) $(GO) build -trimpath $(MIPSLE_GCFLAGS) -ldflags '$(LDFLAGS) $(MIPSLE_LDFLAGS)' -o bin/mipsle/lightnvr ./cmd/lightnvr
	@size=$$(stat -c %s bin/mipsle/lightnvr); echo "bin/mipsle/lightnvr: $$size bytes (budget 20000000)"; \
	if [ $$size -gt 20000000 ]; then echo "mipsle binary over the 20 MB budget"; exit 1; fi

# go2rtc is built from source once and cached in bin/ (again when its build
# changes); the mipsle one is the appliance's slim main.
go2rtc: bin/go2rtc bin/mipsle/go2rtc
bin/go2rtc bin/mipsle/go2rtc &: scripts/build-go2rtc.sh buildroot/package/go2rtc/_slim/main.go
	GO2RTC_VERSION=$(GO2RTC_VERSION) scripts/build-go2rtc.sh bin/go2rtc bin/mipsle/go2rtc

# The newcomer's command: everything under ./data, go2rtc managed, Ctrl-C stops all.
run: build go2rtc
	@scripts/run-dev.sh "$(DATA_DIR)"

# The one test command (CI runs exactly this).
test: check unit fuzz mipsle mipsle-test mipsle-start qemu-test

check: fmt-check vet staticcheck mod-check deadcode clones

# No function that neither a command nor a test reaches: dead code is deleted,
# not kept for later. deadcode prints what it finds and exits 0, so any output fails.
DEADCODE ?= golang.org/x/tools/cmd/deadcode@v0.41.0
deadcode:
	@out="$$($(GO) run $(DEADCODE) -test ./...)"; \
	if [ -n "$$out" ]; then echo "unreachable code:"; echo "$$out"; exit 1; fi

# Repeated code: dupl lists every group of clones of at least DUPL_TOKENS
# tokens. The list is for reading; the check fails only when the number of
# groups rises above the ceiling in .ci/clone-ceiling, so a new copy fails while
# the old ones stay listed until they get one home (then lower the ceiling).
DUPL ?= github.com/mibk/dupl@v1.1.0
DUPL_TOKENS ?= 50
clones:
	@out="$$($(GO) run $(DUPL) -t $(DUPL_TOKENS) ./cmd ./pkg ./board)" || exit 1; echo "$$out"; \
	n=$$(echo "$$out" | sed -n 's/^Found total \([0-9]*\) clone group.*/\1/p'); \
	max=$$(grep -v '^#' .ci/clone-ceiling); \
	if [ -z "$$n" ]; then echo "clones: dupl printed no count"; exit 1; fi; \
	if [ "$$n" -gt "$$max" ]; then echo "$$n clone groups, over the ceiling of $$max in .ci/clone-ceiling: give the new copy one home"; exit 1; fi; \
	if [ "$$n" -lt "$$max" ]; then echo "$$n clone groups, under the ceiling of $$max: lower .ci/clone-ceiling to $$n"; fi

# go.mod must say what the code imports: direct dependencies not marked indirect,
# nothing unused.
mod-check:
	$(GO) mod tidy -diff

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

# Every test under the race detector, then the full-size database tests that
# the race detector makes too slow (they run with fewer rows under -race).
# nvr-testgate fails the run on any skipped test not in .ci/allowed-skips: a
# skip means something was not checked.
TESTGATE := $(GO) run ./cmd/nvr-testgate -allow .ci/allowed-skips
LARGE_DB_TESTS := ^(TestRecordingListFiltersAndPages|TestRecordingListAPI)$$
# mipsle: board/ingenic-a1's tests pack the flash images from bin/mipsle and
# sign and install an OTA bundle with bin/lightnvr.
unit: build go2rtc mipsle
	set -o pipefail; $(GO) test -json -race -count=1 -timeout 20m ./... | $(TESTGATE)
	set -o pipefail; $(GO) test -json -count=1 -run '$(LARGE_DB_TESTS)' ./pkg/db ./pkg/api | $(TESTGATE)

# Brief fuzzing of the parsers that read files we did not write.
fuzz:
	scripts/fuzz-all.sh $(FUZZTIME)

# The storage-facing packages again, as mipsle code under qemu-user.
mipsle-test:
	$(MIPSLE_ENV) $(GO) test -count=1 -exec $(QEMU_USER) ./pkg/db/... ./pkg/config/...

# The mipsle binary must start on an Ingenic kernel string.
mipsle-start: mipsle
	scripts/mipsle-start-check.sh bin/mipsle/lightnvr "$(QEMU_USER)" "$(INGENIC_UNAME)"

# Firmware without Buildroot (see board/, rootfs-overlay/, buildroot/README.md).
# The rootfs's lightnvr trusts OTA_PUBKEYS (or OTA_KEY's public key), so the
# image accepts the bundles signed for it.
BOARD ?= qemu-malta
mipsle-keyed: build go2rtc | $(OTA_KEY)
	@keys='$(OTA_PUBKEYS)'; \
	if [ -z "$$keys" ]; then keys="$$(cat '$(OTA_KEY).pub')" || { echo "no $(OTA_KEY).pub: give OTA_PUBKEYS"; exit 1; }; fi; \
	$(MAKE) --no-print-directory mipsle OTA_PUBKEYS="$$keys"

rootfs: mipsle-keyed
	scripts/firmware-rootfs.sh $(BOARD) build/rootfs/$(BOARD) bin/mipsle/lightnvr bin/mipsle/go2rtc $(VERSION)

# build/firmware/$(BOARD)/: the squashfs image(s) and lightnvr-update.bundle,
# the signed OTA bundle of this build. FLASH_LAYOUT picks another layout than
# the board's (ingenic-a1: nand128m, into build/firmware/ingenic-a1-nand128m/,
# with the kernel UIMAGE if given).
FLASH_LAYOUT ?=
UIMAGE       ?=
FIRMWARE_DIR := build/firmware/$(BOARD)$(if $(FLASH_LAYOUT),-$(FLASH_LAYOUT))
firmware: rootfs
	FLASH_LAYOUT=$(FLASH_LAYOUT) UIMAGE=$(UIMAGE) scripts/firmware-bundle.sh $(BOARD) build/rootfs/$(BOARD) $(FIRMWARE_DIR) bin/lightnvr $(OTA_KEY) $(VERSION) $(OTA_MIN_VERSION)
	@# The image's own lightnvr (the one rootfs built) must trust the bundle.
	$(QEMU_USER) bin/mipsle/lightnvr -c /dev/null ota verify -board $(BOARD) $(FIRMWARE_DIR)/lightnvr-update.bundle

# The development signing key, made once; OTA_KEY.pub is its public key.
build/ota-dev.key: | bin/lightnvr
	@mkdir -p $(@D)
	bin/lightnvr ota keygen $@ > $@.pub.tmp && mv $@.pub.tmp $@.pub

# Boots the firmware in qemu Malta and checks the appliance end to end, then
# its A/B updates with bundles signed by OTA_KEY (the image trusts that key).
QEMU_TEST_RUN ?= ^(TestAppliance|TestOTA)$$
qemu-test: mipsle-keyed
	VERSION=$(VERSION) OTA_KEY=$(OTA_KEY) QEMU_TEST_RUN='$(QEMU_TEST_RUN)' scripts/qemu-test.sh

# The board's memory under load: LIGHTNVR_QEMU_SCALE_STREAMS (8) streams of
# 640x360 recorded through go2rtc in LIGHTNVR_QEMU_SCALE_SEGMENT (60) s
# segments with -m 160 for LIGHTNVR_QEMU_SCALE_FOR (10m): no OOM,
# MemAvailable never under 20 MB; prints memory and CPU per stream. Not part
# of `test`: it takes the whole window.
qemu-scale: mipsle-keyed
	VERSION=$(VERSION) OTA_KEY=$(OTA_KEY) QEMU_TEST_RUN='^TestScaleOnBoardMemory$$' scripts/qemu-test.sh

# Five power cuts while two streams record (about 5 minutes on a quiet
# machine). Not part of `test`: with it the clean-machine CI run comes close to
# its 30 minutes, and the emulated guest starves when the host is busy.
qemu-powercut: mipsle-keyed
	VERSION=$(VERSION) OTA_KEY=$(OTA_KEY) QEMU_TEST_RUN='^TestPowerCutWhileRecording$$' scripts/qemu-test.sh

# Recording cost, side by side on the same synthetic streams in one run: ffmpeg
# -c copy to segment MP4 and to fMP4, mediamtx's fMP4 recorder (with MEDIAMTX=path
# to its binary), `lightnvr serve` recording through go2rtc (go2rtc's CPU apart)
# and our pipeline alone, both with GOMAXPROCS=1 as the appliance runs lightnvr
# (BENCH_GOMAXPROCS=0: Go's default); CPU per stream-minute over a BENCH_DURATION window with
# ratios, memory, ffprobe on every file; BENCH_RUNS measures each count that many times and
# adds every recorder's spread (min, median, max) over the runs. Then idle RSS (native and mipsle under
# qemu-user) and allocations per access unit. Prints figures, asserts nothing;
# not part of `test` (it takes several minutes).
BENCH_STREAMS  ?= 1,8,32
BENCH_DURATION ?= 60s
MEDIAMTX       ?=
BENCH_GOMAXPROCS ?= 1
BENCH_RUNS     ?= 1
bench-record: build mipsle bin/go2rtc
	$(GO) build -o bin/nvr-bench ./cmd/nvr-bench
	bin/nvr-bench run -streams $(BENCH_STREAMS) -duration $(BENCH_DURATION) -gomaxprocs $(BENCH_GOMAXPROCS) \
		-runs $(BENCH_RUNS) -lightnvr bin/lightnvr -go2rtc bin/go2rtc $(if $(MEDIAMTX),-mediamtx $(MEDIAMTX)) \
		-mipsle bin/mipsle/lightnvr -qemu $(QEMU_USER)
	$(GO) test -run=NONE -bench=HubToRecorder -benchmem ./pkg/record

bench:
	$(GO) test -run=NONE -bench=. -benchmem ./...

clean:
	rm -rf bin build

FORCE:
