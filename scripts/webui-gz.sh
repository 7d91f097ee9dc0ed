#!/bin/sh
# webui-gz.sh: packs web-dist/ into web-dist/gz for the appliance's build (tag
# uigz, web-dist/embed_gz.go): every text file as NAME.gz (gzip -9, no name or
# time, so the same tree packs to the same bytes), everything else as it is.
# The server sends the .gz as stored; see pkg/api/static.go.
set -eu
cd "$(dirname "$0")/../web-dist"
rm -rf gz
find . -path ./gz -prune -o -type f ! -name '*.go' -print | while read -r f; do
	f=${f#./}
	mkdir -p "gz/$(dirname "$f")"
	case "$f" in
	*.html | *.htm | *.js | *.css | *.svg | *.json | *.md | *.txt | vendor/LICENSE.*) gzip -9 -n -c "$f" >"gz/$f.gz" ;;
	*) cp "$f" "gz/$f" ;;
	esac
done
