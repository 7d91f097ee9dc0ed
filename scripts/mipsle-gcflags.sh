#!/bin/sh
# Compiler flags of the appliance (mipsle) build, printed for `make mipsle` and
# the Buildroot package alike, so both build the same binary.
#
# The stripped binary must stay within 20 MB (DESIGN.md §5) and the flash holds
# two copies. Inlining roughly doubles the code it touches: with it on, this
# wave's features put the binary at 21.4 MB; with it off everywhere, 19.9 MB.
# Keeping it on for the media path alone (runtime, RTSP ingest, fMP4, the ring)
# costs another 64 KB page, which does not fit yet; the way back is a smaller
# binary (one HTTP client instead of two), measured against the ingest
# benchmarks on qemu.
echo "-gcflags=all=-l"
