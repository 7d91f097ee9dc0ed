package record

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// More buffers than one writev takes, empty ones among them, land in order.
func TestWriteAllManyBuffers(t *testing.T) {
	var bufs [][]byte
	var want []byte
	for i := range 3*iovMax + 7 {
		b := bytes.Repeat([]byte{byte(i)}, i%5) // every fifth is empty
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	iov, err := writeAll(int(f.Fd()), bufs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range iov[:cap(iov)] {
		if v.Base != nil {
			t.Fatal("the scratch vector still points at a payload")
		}
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes, want %d (in order)", len(got), len(want))
	}
}
