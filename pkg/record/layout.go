package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SanitizeStream maps a stream name to its directory name the way LightNVR
// does: every character outside [A-Za-z0-9-] becomes '_'.
func SanitizeStream(name string) string {
	var b strings.Builder
	for _, c := range name {
		if c < 128 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// StreamDir is <storage>/mp4/<sanitised stream>.
func StreamDir(storage, stream string) string {
	return filepath.Join(storage, "mp4", SanitizeStream(stream))
}

// Directory formats of [storage] mp4_directory_format, as LightNVR's.
const (
	DirFlat         = "flat"           // <stream>/
	DirYearMonth    = "year_month"     // <stream>/YYYY/MM/
	DirYearMonthDay = "year_month_day" // <stream>/YYYY/MM/DD/, the default
)

// SegmentDir is the directory a segment starting at t goes in: the
// stream's directory, then the year, month and day (local time) as far as
// format asks ("" or unknown is year_month_day).
func SegmentDir(storage, stream, format string, t time.Time) string {
	t = t.Local()
	dir := StreamDir(storage, stream)
	switch format {
	case DirFlat:
		return dir
	case DirYearMonth:
		return filepath.Join(dir, t.Format("2006"), t.Format("01"))
	}
	return filepath.Join(dir, t.Format("2006"), t.Format("01"), t.Format("02"))
}

// fileName returns recording_YYYYMMDD_HHMMSS.mp4 (detection_… for
// detection-triggered clips), with _N before the extension for n > 0.
func fileName(trigger string, t time.Time, n int) string {
	prefix := "recording_"
	if trigger == TriggerDetection || trigger == TriggerMotion {
		prefix = "detection_"
	}
	s := prefix + t.Local().Format("20060102_150405")
	if n > 0 {
		s += fmt.Sprintf("_%d", n)
	}
	return s + ".mp4"
}

// SyncDir makes a directory's entries (a new or removed file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// mkdirAllSync creates dir and its missing parents, syncing each parent so
// the new directories survive a power cut.
func mkdirAllSync(dir string) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("mkdir %s: not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return SyncDir(parent)
}

// partInfo locates one moof+mdat in a segment file.
type partInfo struct {
	size int64
	dur  time.Duration
	key  bool
}

// encodeParts packs parts as described in migration 0110.
func encodeParts(parts []partInfo, buf []byte) []byte {
	buf = buf[:0]
	for _, p := range parts {
		buf = binary.AppendUvarint(buf, uint64(p.size))
		v := uint64(p.dur/time.Microsecond) << 1
		if p.key {
			v |= 1
		}
		buf = binary.AppendUvarint(buf, v)
	}
	return buf
}

// Part is one entry of a segment's part index.
type Part struct {
	Offset   int64         // byte offset of the moof in the file
	Size     int64         // bytes of moof+mdat
	Start    time.Duration // from the segment start
	Duration time.Duration
	Key      bool // starts with a keyframe
}

// DecodeParts unpacks a recording_index.parts blob; initSize is the byte
// length of ftyp+moov.
func DecodeParts(blob []byte, initSize int64) ([]Part, error) {
	var out []Part
	off, start := initSize, time.Duration(0)
	for len(blob) > 0 {
		size, n := binary.Uvarint(blob)
		if n <= 0 {
			return nil, errors.New("part index: bad size")
		}
		blob = blob[n:]
		v, n := binary.Uvarint(blob)
		if n <= 0 {
			return nil, errors.New("part index: bad duration")
		}
		blob = blob[n:]
		d := time.Duration(v>>1) * time.Microsecond
		out = append(out, Part{Offset: off, Size: int64(size), Start: start, Duration: d, Key: v&1 == 1})
		off += int64(size)
		start += d
	}
	return out, nil
}
