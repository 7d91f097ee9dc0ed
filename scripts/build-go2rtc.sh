#!/usr/bin/env bash
# Builds go2rtc from source through the Go module proxy, outside our module, so that
# go2rtc's dependencies never enter lightnvr's go.mod. `go install pkg@version` is not
# usable (the proxy does not list go2rtc's versions), so a throwaway module pins it as a
# tool dependency instead. CGO stays off: with cgo on, go2rtc's v4l2 package fails to build.
#
# usage: scripts/build-go2rtc.sh OUT_NATIVE [OUT_MIPSLE]
set -euo pipefail
version="${GO2RTC_VERSION:-v1.9.14}"
# Absolute paths: the build runs in a scratch module directory.
out_native="$(realpath -m "$1")"
out_mipsle="${2:+$(realpath -m "$2")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init lightnvr-go2rtc-build >/dev/null 2>&1
go get -tool "github.com/AlexxIT/go2rtc@${version}"
mkdir -p "$(dirname "$out_native")"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$out_native" github.com/AlexxIT/go2rtc
if [ -n "$out_mipsle" ]; then
  mkdir -p "$(dirname "$out_mipsle")"
  CGO_ENABLED=0 GOARCH=mipsle GOMIPS=softfloat go build -trimpath -ldflags '-s -w' -o "$out_mipsle" github.com/AlexxIT/go2rtc
fi
