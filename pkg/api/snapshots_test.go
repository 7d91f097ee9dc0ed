package api

import (
	"bytes"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/detect"
)

// A snapshot the detectors kept is served as the JPEG it is, to viewers;
// names that leave the snapshot directory, however encoded, are refused
// and unknown files are 404.
func TestSnapshotRoute(t *testing.T) {
	e := newRecEnv(t)
	var pic bytes.Buffer
	if err := jpeg.Encode(&pic, image.NewGray(image.Rect(0, 0, 64, 48)), nil); err != nil {
		t.Fatal(err)
	}
	snaps := detect.NewSnapshots(e.cfg.Storage.Path, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	path, err := snaps.Save("front", time.Unix(1_772_366_400, 0), pic.Bytes())
	if err != nil || path == "" {
		t.Fatalf("save: %q %v", path, err)
	}
	url := "/api/snapshots/front/" + filepath.Base(path)

	r := e.as("viewer", req{method: "GET", path: url})
	if r.status != 200 || string(r.header.ContentType()) != "image/jpeg" || !bytes.Equal(r.body, pic.Bytes()) {
		t.Fatalf("GET %s: %d %s, %d bytes", url, r.status, r.header.ContentType(), len(r.body))
	}
	if _, err := jpeg.Decode(bytes.NewReader(r.body)); err != nil {
		t.Fatalf("served snapshot: %v", err)
	}
	if r := e.do(req{method: "GET", path: url}); r.status != 401 {
		t.Errorf("anonymous: %d", r.status)
	}
	for _, p := range []string{
		// The server resolves these to the file above before routing.
		"/api/snapshots/front/..%2ffront%2f" + filepath.Base(path),
		"/api/snapshots/..%2fsnapshots%2ffront/" + filepath.Base(path),
		"/api/snapshots/front/%2e%2e%2f%2e%2e%2fsnapshots%2ffront%2f" + filepath.Base(path),
		"/api/snapshots/front/..%5cx.jpg",
		"/api/snapshots/front/" + strings.TrimSuffix(filepath.Base(path), ".jpg") + ".png",
		"/api/snapshots/front/.hidden.jpg",
	} {
		if r := e.as("viewer", req{method: "GET", path: p}); r.status != 400 {
			t.Errorf("GET %s: %d %s, want 400", p, r.status, r.header.ContentType())
		}
	}
	for _, p := range []string{"/api/snapshots/front/1.jpg", "/api/snapshots/back/" + filepath.Base(path)} {
		if r := e.as("viewer", req{method: "GET", path: p}); r.status != 404 {
			t.Errorf("GET %s: %d %s, want 404", p, r.status, r.body)
		}
	}
}
