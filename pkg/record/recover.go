package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"lightnvr/pkg/db"
)

// scanResult is what a segment file holds up to its last whole part.
type scanResult struct {
	initSize int64
	mvhdOff  int64
	validEnd int64 // bytes up to the end of the last whole moof+mdat
	parts    []partInfo
	duration time.Duration // of the primary (video, else first) track
	fileSize int64
}

// openSized opens a file for reading box by box and returns its size.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// errBadBox marks a box header whose size cannot be right.
var errBadBox = errors.New("bad size")

// readBoxHeader reads a box header at off: its total size and type.
func readBoxHeader(f io.ReaderAt, off, fileSize int64) (size int64, typ string, hdr int64, err error) {
	var h [16]byte
	if off+8 > fileSize {
		return 0, "", 0, io.ErrUnexpectedEOF
	}
	if _, err := f.ReadAt(h[:8], off); err != nil {
		return 0, "", 0, err
	}
	size = int64(binary.BigEndian.Uint32(h[:4]))
	typ = string(h[4:8])
	hdr = 8
	if size == 1 {
		if off+16 > fileSize {
			return 0, "", 0, io.ErrUnexpectedEOF
		}
		if _, err := f.ReadAt(h[8:16], off+8); err != nil {
			return 0, "", 0, err
		}
		size = int64(binary.BigEndian.Uint64(h[8:16]))
		hdr = 16
	}
	if size == 0 {
		size = fileSize - off // box extends to the end of the file
	}
	if size < hdr {
		return 0, "", 0, fmt.Errorf("box %q at %d: %w %d", typ, off, errBadBox, size)
	}
	return size, typ, hdr, nil
}

// scanFile walks a segment box by box. It stops at the first box that is
// cut short or does not belong, so a file torn by a crash yields its whole
// parts only.
func scanFile(path string) (*scanResult, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	res := &scanResult{fileSize: size}

	// ftyp then moov.
	var off int64
	var initBuf []byte
	for _, want := range []string{"ftyp", "moov"} {
		bs, typ, _, err := readBoxHeader(f, off, size)
		if err != nil || typ != want || off+bs > size || bs > 1<<20 {
			return res, nil // no usable init: no part survives
		}
		b := make([]byte, bs)
		if _, err := f.ReadAt(b, off); err != nil {
			return nil, err
		}
		initBuf = append(initBuf, b...)
		off += bs
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(initBuf)); err != nil || len(init.Tracks) == 0 {
		return res, nil
	}
	mvhd, err := findMvhd(initBuf)
	if err != nil {
		return res, nil
	}
	res.initSize, res.mvhdOff, res.validEnd = off, mvhd, off
	primary := init.Tracks[0]
	for _, t := range init.Tracks {
		if t.Codec.IsVideo() {
			primary = t
			break
		}
	}

	var first, end int64 = -1, 0
	for {
		ms, typ, _, err := readBoxHeader(f, off, size)
		if err != nil || typ != "moof" || ms > 4<<20 || off+ms > size {
			break
		}
		moof := make([]byte, ms)
		if _, err := f.ReadAt(moof, off); err != nil {
			return nil, err
		}
		ds, dtyp, _, err := readBoxHeader(f, off+ms, size)
		if err != nil || dtyp != "mdat" || off+ms+ds > size {
			break
		}
		tr, ok := parseMoof(moof, uint32(primary.ID))
		if !ok {
			break
		}
		info := partInfo{size: ms + ds, key: tr.key}
		if tr.found {
			if first < 0 {
				first = int64(tr.base)
			}
			end = int64(tr.base) + tr.dur
			info.dur = ticksDur(tr.dur, primary.TimeScale)
		}
		res.parts = append(res.parts, info)
		off += ms + ds
		res.validEnd = off
	}
	if first >= 0 {
		res.duration = ticksDur(end-first, primary.TimeScale)
	}
	return res, nil
}

func ticksDur(t int64, scale uint32) time.Duration {
	if scale == 0 {
		return 0
	}
	return time.Duration(t) * time.Second / time.Duration(scale)
}

type trafInfo struct {
	found bool
	base  uint64
	dur   int64
	key   bool
}

// parseMoof extracts the primary track's base time, total duration and
// first-sample sync flag from a moof box (as written by mediacommon:
// tfhd without defaults, tfdt, trun with per-sample durations).
func parseMoof(moof []byte, trackID uint32) (trafInfo, bool) {
	var out trafInfo
	children := func(b []byte, fn func(typ string, body []byte) bool) bool {
		for len(b) >= 8 {
			sz := int(binary.BigEndian.Uint32(b))
			if sz < 8 || sz > len(b) {
				return false
			}
			if !fn(string(b[4:8]), b[8:sz]) {
				return false
			}
			b = b[sz:]
		}
		return len(b) == 0
	}
	ok := children(moof[8:], func(typ string, body []byte) bool {
		if typ != "traf" {
			return true
		}
		var id uint32
		var base uint64
		var dur int64
		var key = true
		okT := children(body, func(typ string, b []byte) bool {
			switch typ {
			case "tfhd":
				if len(b) < 8 {
					return false
				}
				id = binary.BigEndian.Uint32(b[4:8])
			case "tfdt":
				if len(b) < 8 {
					return false
				}
				if b[0] == 1 {
					if len(b) < 12 {
						return false
					}
					base = binary.BigEndian.Uint64(b[4:12])
				} else {
					base = uint64(binary.BigEndian.Uint32(b[4:8]))
				}
			case "trun":
				if len(b) < 8 {
					return false
				}
				flags := binary.BigEndian.Uint32(b[0:4]) & 0xffffff
				n := int(binary.BigEndian.Uint32(b[4:8]))
				p := 8
				if flags&0x1 != 0 {
					p += 4
				}
				firstFlags := -1
				if flags&0x4 != 0 {
					if len(b) < p+4 {
						return false
					}
					firstFlags = int(binary.BigEndian.Uint32(b[p:]))
					p += 4
				}
				entry := 0
				for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
					if flags&f != 0 {
						entry += 4
					}
				}
				if len(b) < p+n*entry {
					return false
				}
				for i := 0; i < n; i++ {
					e := b[p+i*entry:]
					q := 0
					if flags&0x100 != 0 {
						dur += int64(binary.BigEndian.Uint32(e[q:]))
						q += 4
					}
					if flags&0x200 != 0 {
						q += 4
					}
					if i == 0 {
						sf := firstFlags
						if flags&0x400 != 0 {
							sf = int(binary.BigEndian.Uint32(e[q:]))
						}
						if sf >= 0 {
							key = sf&0x10000 == 0
						}
					}
				}
			}
			return true
		})
		if !okT {
			return false
		}
		if id == trackID {
			out = trafInfo{found: true, base: base, dur: dur, key: key}
		}
		return true
	})
	return out, ok
}

// RecoverReport counts what Recover did.
type RecoverReport struct {
	Completed      int // rows repaired and marked complete
	Removed        int // rows (and files) removed because no whole part survived
	BytesTruncated int64
}

// Recover runs at boot, before any recorder starts: it repairs every
// incomplete recording from its file. (Deletions a crash interrupted are
// the storage controller's to finish: it owns the garbage table.)
func Recover(ctx context.Context, d *db.DB, log *slog.Logger) (RecoverReport, error) {
	var rep RecoverReport
	if log == nil {
		log = slog.Default()
	}
	recs, err := db.IncompleteRecordings(ctx, d)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, rec := range recs {
		removed, cut, err := RecoverRecording(ctx, d, rec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rep.BytesTruncated += cut
		if removed {
			rep.Removed++
		} else {
			rep.Completed++
		}
		log.Info("recording repaired", "id", rec.ID, "file", rec.FilePath, "removed", removed, "truncated_bytes", cut)
	}
	return rep, errors.Join(errs...)
}

// RecoverRecording repairs one incomplete recording: the file is cut after
// its last whole part, its duration patched and recomputed, the index
// rebuilt and the row completed; without any whole part the row and file
// are removed. It reports whether the recording was removed and how many
// bytes were cut off.
func RecoverRecording(ctx context.Context, d *db.DB, rec *db.Recording) (removed bool, truncated int64, err error) {
	res, err := scanFile(rec.FilePath)
	if errors.Is(err, fs.ErrNotExist) {
		return true, 0, removeUnplayable(ctx, d, rec)
	}
	if err != nil {
		return false, 0, fmt.Errorf("recover %s: %w", rec.FilePath, err)
	}
	if len(res.parts) == 0 {
		return true, res.fileSize, removeUnplayable(ctx, d, rec)
	}
	f, err := os.OpenFile(rec.FilePath, os.O_RDWR, 0)
	if err != nil {
		return false, 0, fmt.Errorf("recover %s: %w", rec.FilePath, err)
	}
	if res.fileSize > res.validEnd {
		truncated = res.fileSize - res.validEnd
		if err := f.Truncate(res.validEnd); err != nil {
			_ = f.Close()
			return false, 0, fmt.Errorf("recover %s: %w", rec.FilePath, err)
		}
	}
	err = patchMvhd(f, res.mvhdOff, res.duration)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = SyncDir(filepath.Dir(rec.FilePath))
	}
	if err != nil {
		return false, 0, fmt.Errorf("recover %s: %w", rec.FilePath, err)
	}

	startUS := time.Unix(rec.StartTime, 0).UnixMicro()
	if ix, err := db.GetRecordingIndex(ctx, d, rec.ID); err == nil {
		startUS = ix.StartUS
	}
	end := db.RecordingEnd{
		EndTime:   time.UnixMicro(startUS).Add(res.duration).Unix(),
		SizeBytes: res.validEnd, Width: rec.Width, Height: rec.Height, FPS: rec.FPS, Codec: rec.Codec,
	}
	ix := &db.RecordingIndex{RecordingID: rec.ID, StartUS: startUS, DurationUS: res.duration.Microseconds(),
		InitSize: res.initSize, PartCount: len(res.parts), Parts: encodeParts(res.parts, nil)}
	if err := db.FinishRecording(ctx, d, ix, end); err != nil {
		return false, 0, fmt.Errorf("recover %s: %w", rec.FilePath, err)
	}
	return false, truncated, nil
}

// removeUnplayable removes an incomplete recording that holds no whole
// part: the file first, then the row. Nothing plays an incomplete row, and
// a crash in between leaves one without a file, which the next repair
// removes; so unlike deleting a finished recording (the storage
// controller's garbage table) this needs no bookkeeping.
func removeUnplayable(ctx context.Context, d *db.DB, rec *db.Recording) error {
	if err := os.Remove(rec.FilePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove recording %d: %w", rec.ID, err)
	}
	if err := SyncDir(filepath.Dir(rec.FilePath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove recording %d: %w", rec.ID, err)
	}
	return db.DeleteRecording(ctx, d, rec.ID)
}

// repairAbandoned completes rows left incomplete by an earlier storage
// error, now that writing works again.
func (r *Recorder) repairAbandoned() {
	if len(r.abandoned) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	left := r.abandoned[:0]
	for _, id := range r.abandoned {
		rec, err := db.GetRecording(ctx, r.cfg.DB, id)
		if errors.Is(err, db.ErrRecordingNotFound) {
			continue
		}
		if err == nil && !rec.IsComplete {
			_, _, err = RecoverRecording(ctx, r.cfg.DB, rec)
		}
		if err != nil {
			r.log.Warn("interrupted recording not repaired yet", "id", id, "err", err)
			left = append(left, id)
		}
	}
	r.abandoned = left
}

// MP4Info is what ProbeMP4 learns of an MP4 file.
type MP4Info struct {
	Fragmented bool          // it holds fragments (moof): recorded by us
	Duration   time.Duration // the movie duration of moov/mvhd, 0 if unknown
}

// ProbeMP4 reads the top-level boxes of an MP4 file (one that may come
// from LightNVR, not only from this recorder): whether it holds fragments
// and the movie duration from moov/mvhd.
func ProbeMP4(path string) (MP4Info, error) {
	var pr MP4Info
	f, size, err := openSized(path)
	if err != nil {
		return pr, err
	}
	defer func() { _ = f.Close() }()
	var off int64
	sawFtyp := false
	for i := 0; i < 64 && off+8 <= size; i++ {
		bs, typ, hl, err := readBoxHeader(f, off, size)
		if errors.Is(err, errBadBox) {
			break
		}
		if err != nil {
			return pr, err
		}
		switch typ {
		case "ftyp":
			sawFtyp = true
		case "moof":
			pr.Fragmented = true
		case "moov":
			if bs <= 8<<20 && off+bs <= size {
				b := make([]byte, bs-hl)
				if _, err := f.ReadAt(b, off+hl); err != nil && !errors.Is(err, io.EOF) {
					return pr, err
				}
				pr.Duration = mvhdDuration(b)
			}
		}
		if pr.Fragmented {
			break
		}
		off += bs
	}
	if !sawFtyp {
		return pr, errors.New("not an MP4 file (no ftyp box)")
	}
	return pr, nil
}

// mvhdDuration finds mvhd among moov's children and returns its duration.
func mvhdDuration(moov []byte) time.Duration {
	for len(moov) >= 8 {
		sz := int(binary.BigEndian.Uint32(moov))
		if sz < 8 || sz > len(moov) {
			return 0
		}
		if string(moov[4:8]) == "mvhd" {
			b := moov[8:sz]
			if len(b) < 20 {
				return 0
			}
			var scale uint32
			var dur uint64
			if b[0] == 1 {
				if len(b) < 32 {
					return 0
				}
				scale = binary.BigEndian.Uint32(b[20:24])
				dur = binary.BigEndian.Uint64(b[24:32])
			} else {
				scale = binary.BigEndian.Uint32(b[12:16])
				dur = uint64(binary.BigEndian.Uint32(b[16:20]))
			}
			if scale == 0 || dur == 0xffffffff || dur == 1<<64-1 {
				return 0
			}
			return time.Duration(float64(dur) / float64(scale) * float64(time.Second))
		}
		moov = moov[sz:]
	}
	return 0
}
