include $(sort $(wildcard $(BR2_EXTERNAL_NVR_PATH)/package/*/*.mk))

# Upstream Buildroot knows no Go target for 32-bit MIPS, so our golang packages
# set the environment themselves (see package/*/*.mk). Shared here.
NVR_GO_ENV = \
	CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=softfloat \
	GOCACHE=$(HOST_GO_TARGET_CACHE) GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local
