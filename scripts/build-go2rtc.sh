#!/usr/bin/env bash
# Builds go2rtc from source through the Go module proxy, outside our module, so that
# go2rtc's dependencies never enter lightnvr's go.mod. `go install pkg@version` is not
# usable (the proxy does not list go2rtc's versions), so a throwaway module pins it as a
# tool dependency instead. CGO stays off: with cgo on, go2rtc's v4l2 package fails to build.
#
# The build machine's go2rtc is go2rtc's own main (every module). The appliance's
# (mipsle) is the slim main in buildroot/package/go2rtc/_slim/main.go, which keeps only
# the modules lightnvr uses: it must fit the 16 MiB NOR layout
# (board/ingenic-a1/flash-layout-nor16m.md). That main imports go2rtc's internal/
# packages, which only code inside go2rtc's module may import, so it is written into a
# copy of go2rtc's source tree, which the throwaway module uses in place of the
# download (a replace directive keeps the module's version, v1.9.14, in the build info).
#
# usage: scripts/build-go2rtc.sh OUT_NATIVE [OUT_MIPSLE]
set -euo pipefail
version="${GO2RTC_VERSION:-v1.9.14}"
root="$(cd "$(dirname "$0")/.." && pwd)"
slim_main="$root/buildroot/package/go2rtc/_slim/main.go"
# Absolute paths: the build runs in a scratch module directory.
out_native="$(realpath -m "$1")"
out_mipsle="${2:+$(realpath -m "$2")}"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cd "$work"
go mod init lightnvr-go2rtc-build >/dev/null 2>&1
go get -tool "github.com/AlexxIT/go2rtc@${version}"
mkdir -p "$(dirname "$out_native")"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$out_native" github.com/AlexxIT/go2rtc
if [ -n "$out_mipsle" ]; then
  cp -r "$(go list -m -f '{{.Dir}}' github.com/AlexxIT/go2rtc)" go2rtc
  chmod -R u+w go2rtc
  mkdir go2rtc/slim
  cp "$slim_main" go2rtc/slim/main.go
  go mod edit -replace github.com/AlexxIT/go2rtc=./go2rtc
  mkdir -p "$(dirname "$out_mipsle")"
  CGO_ENABLED=0 GOARCH=mipsle GOMIPS=softfloat go build -trimpath -ldflags '-s -w' -o "$out_mipsle" github.com/AlexxIT/go2rtc/slim
  echo "go2rtc: $out_mipsle $(stat -c %s "$out_mipsle") bytes (slim main)"
fi
