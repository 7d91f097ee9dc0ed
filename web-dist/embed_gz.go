//go:build uigz

package webdist

import (
	"embed"
	"io/fs"
)

// gzipped is the UI as scripts/webui-gz.sh packs it into web-dist/gz before
// the appliance's build: text files as NAME.gz, the rest as they are. The
// server sends the gzip form as stored, so the binary carries about 200 KB
// less text.
//
//go:embed gz
var gzipped embed.FS

// FS is the UI, its text files gzipped.
var FS = mustSub(gzipped, "gz")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a literal the embed directive above guarantees
	}
	return sub
}
