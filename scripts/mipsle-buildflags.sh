#!/bin/sh
# Build flags of the appliance (mipsle) binary, printed for `make mipsle` and
# the Buildroot package alike, so both build the same binary:
#   scripts/mipsle-buildflags.sh      compiler flags (go build options)
#   scripts/mipsle-buildflags.sh ld   linker flags (added inside -ldflags)
#
# The stripped binary must stay within 20 MB (DESIGN.md §5) and the flash holds
# two copies.
#
# Linker: segments are aligned to 4 KiB instead of Go's 64 KiB default for
# mips. The kernels we ship use 4 KiB pages (CONFIG_PAGE_SIZE_4KB in every
# board's kernel fragment; a test in buildroot/ keeps the two in step), so the
# 64 KiB padding between the text, rodata and data segments only cost flash:
# about 55 KB, and the size no longer moves in 64 KiB steps.
#
# Compiler: inlining roughly doubles the code of what it touches, and on the
# appliance almost all code is cold: the API, the database (SQLite is Go
# translated from C), TLS, JSON, XML, MQTT run a few times a second at most.
# So inlining is off everywhere except where every access unit passes: RTSP
# ingest, fMP4 muxing, the pre-event ring, live HLS, motion detection and the
# pipelines that fan units out. The runtime is left out: inlining it costs
# 82 KB, more than the room the OTA package left (most of its hot paths
# are assembly or compiler intrinsics either way).
#
# Measured (stripped, 4 KiB alignment, with OTA, UI not yet gzipped): inlining off everywhere
# 19,955,905 bytes; on for the list below 19,931,329 (RTSP and RTP code gets
# smaller when inlined); the list plus the runtime 20,009,153, which does not
# fit; on everywhere, about 23.3 MB.
if [ "$1" = ld ]; then
	echo "-R 0x1000"
	exit 0
fi
hot="
github.com/bluenviron/gortsplib/v5/... github.com/bluenviron/mediacommon/v2/...
github.com/pion/rtp/... github.com/abema/go-mp4
lightnvr/pkg/media/... lightnvr/pkg/record lightnvr/pkg/ringbuf lightnvr/pkg/hls
lightnvr/pkg/detect lightnvr/pkg/streams
"
flags="-gcflags=all=-l"
for p in $hot; do
	flags="$flags -gcflags=$p="
done
# The web UI is embedded gzipped (web-dist/embed_gz.go): about 200 KB less.
# scripts/webui-gz.sh packs it before the build (`make mipsle`, and the
# Buildroot package's pre-build hook).
flags="$flags -tags=uigz"
echo "$flags"
