################################################################################
#
# lightnvr
#
################################################################################

# The source is this repository (buildroot/ is inside it). A local golang
# package is rsynced, not vendored at download time: run `go mod vendor` in the
# repository first (buildroot/README.md).
LIGHTNVR_VERSION = $(shell git -C $(BR2_EXTERNAL_NVR_PATH)/.. describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
LIGHTNVR_SITE = $(BR2_EXTERNAL_NVR_PATH)/..
LIGHTNVR_SITE_METHOD = local
LIGHTNVR_LICENSE = MIT
LIGHTNVR_LICENSE_FILES = LICENSE
LIGHTNVR_GOMOD = lightnvr
LIGHTNVR_BUILD_TARGETS = cmd/lightnvr
# Same flags as `make mipsle` (inlining only on the media path, 4 KiB
# segment alignment) keep the stripped binary within the 20 MB budget
# (DESIGN.md §5).
LIGHTNVR_BUILD_OPTS = $(shell $(BR2_EXTERNAL_NVR_PATH)/../scripts/mipsle-buildflags.sh)
LIGHTNVR_LDFLAGS = \
	$(shell $(BR2_EXTERNAL_NVR_PATH)/../scripts/mipsle-buildflags.sh ld) \
	-s -w \
	-X lightnvr/pkg/version.Version=$(LIGHTNVR_VERSION) \
	-X lightnvr/pkg/version.Commit=$(shell git -C $(BR2_EXTERNAL_NVR_PATH)/.. rev-parse --short HEAD 2>/dev/null || echo unknown)
LIGHTNVR_GO_ENV = $(NVR_GO_ENV)

# Init scripts, inittab and the appliance configuration come from
# rootfs-overlay/ through BR2_ROOTFS_OVERLAY (applied after every package, so
# it wins over busybox's default inittab): the same files `make rootfs` uses.

$(eval $(golang-package))
