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

# The web UI is embedded gzipped (-tags=uigz from mipsle-buildflags.sh):
# packed here from the source tree, as `make mipsle` packs it.
define LIGHTNVR_PACK_WEBUI
	$(Q)$(@D)/scripts/webui-gz.sh
endef
LIGHTNVR_PRE_BUILD_HOOKS += LIGHTNVR_PACK_WEBUI

# The OTA keys (docs/ota.md), built in as `make firmware` does with
# OTA_PUBKEYS: the file's keys joined by commas. A missing file or a word that
# is not a key fails the build, so no image ships trusting something else
# than what was asked for.
LIGHTNVR_OTA_PUBKEYS_FILE = $(call qstrip,$(BR2_PACKAGE_LIGHTNVR_OTA_PUBKEYS))
ifneq ($(LIGHTNVR_OTA_PUBKEYS_FILE),)
LIGHTNVR_OTA_PUBKEYS = $(subst $(space),$(comma),$(strip $(if $(wildcard $(LIGHTNVR_OTA_PUBKEYS_FILE)),$(shell cat $(LIGHTNVR_OTA_PUBKEYS_FILE)))))
LIGHTNVR_LDFLAGS += -X lightnvr/pkg/ota.bakedKeys=$(LIGHTNVR_OTA_PUBKEYS)
define LIGHTNVR_CHECK_OTA_PUBKEYS
	$(Q)test -r $(LIGHTNVR_OTA_PUBKEYS_FILE) || { \
		echo "BR2_PACKAGE_LIGHTNVR_OTA_PUBKEYS: $(LIGHTNVR_OTA_PUBKEYS_FILE) is missing (make build/ota-dev.key in the repository creates the development key)"; exit 1; }
	$(Q)for k in $$(cat $(LIGHTNVR_OTA_PUBKEYS_FILE)); do \
		echo "$$k" | grep -Eq '^[A-Za-z0-9+/]{43}=$$' || { \
			echo "BR2_PACKAGE_LIGHTNVR_OTA_PUBKEYS: $$k in $(LIGHTNVR_OTA_PUBKEYS_FILE) is not a base64 ed25519 public key"; exit 1; }; \
	done
endef
LIGHTNVR_PRE_BUILD_HOOKS += LIGHTNVR_CHECK_OTA_PUBKEYS
endif

# Init scripts, inittab and the appliance configuration come from
# rootfs-overlay/ through BR2_ROOTFS_OVERLAY (applied after every package, so
# it wins over busybox's default inittab): the same files `make rootfs` uses.

$(eval $(golang-package))
