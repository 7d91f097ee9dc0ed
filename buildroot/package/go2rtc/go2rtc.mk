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
GO2RTC_BUILD_TARGETS = .
GO2RTC_BIN_NAME = go2rtc
GO2RTC_GO_ENV = $(NVR_GO_ENV)

# S50go2rtc and the baseline go2rtc.yaml come with the lightnvr package's overlay.

$(eval $(golang-package))
