################################################################################
#
# go2rtc
#
################################################################################

GO2RTC_VERSION = 1.9.14
GO2RTC_SITE = $(call github,AlexxIT,go2rtc,v$(GO2RTC_VERSION))
GO2RTC_LICENSE = MIT
GO2RTC_LICENSE_FILES = LICENSE
GO2RTC_GOMOD = github.com/AlexxIT/go2rtc
# The appliance's main: only the modules lightnvr uses (_slim/main.go says
# which), so that the firmware fits 16 MiB of NOR. It imports go2rtc's
# internal/ packages, so it is built inside go2rtc's source tree, as
# scripts/build-go2rtc.sh does.
GO2RTC_BUILD_TARGETS = slim
GO2RTC_BIN_NAME = go2rtc
GO2RTC_GO_ENV = $(NVR_GO_ENV)

define GO2RTC_SLIM_MAIN
	mkdir -p $(@D)/slim
	cp $(GO2RTC_PKGDIR)/_slim/main.go $(@D)/slim/main.go
endef
GO2RTC_POST_EXTRACT_HOOKS += GO2RTC_SLIM_MAIN

# S50go2rtc and the baseline go2rtc.yaml come with the lightnvr package's overlay.

$(eval $(golang-package))
