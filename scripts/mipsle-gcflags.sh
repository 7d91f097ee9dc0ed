#!/bin/sh
# Compiler flags of the appliance (mipsle) build, printed for `make mipsle` and
# the Buildroot package alike, so both build the same binary.
#
# The stripped binary must stay within 20 MB (DESIGN.md §5) and the flash holds
# two copies. Inlining roughly doubles the code of what it touches, and on the
# appliance almost all code is cold: the API, the database (SQLite is Go
# translated from C), TLS, JSON, XML, MQTT run a few times a second at most.
# So inlining is off everywhere except where every access unit passes: the
# runtime, RTSP ingest, fMP4 muxing, the pre-event ring, live HLS, motion
# detection and the pipelines that fan units out.
#
# Measured (stripped, with backup/restore): inlining off everywhere 19,660,993
# bytes; on for the list below, the same 19,660,993 (its code fits the 64 KB
# pages the linker pads to anyway); adding internal/..., sync, bytes, io,
# encoding/binary and math/bits costs one more page (19,726,529); on
# everywhere, 23,265,473, which does not fit.
hot="
runtime runtime/...
github.com/bluenviron/gortsplib/v5/... github.com/bluenviron/mediacommon/v2/...
github.com/pion/rtp/... github.com/abema/go-mp4
lightnvr/pkg/media/... lightnvr/pkg/record lightnvr/pkg/ringbuf lightnvr/pkg/hls
lightnvr/pkg/detect lightnvr/pkg/streams
"
flags="-gcflags=all=-l"
for p in $hot; do
	flags="$flags -gcflags=$p="
done
echo "$flags"
