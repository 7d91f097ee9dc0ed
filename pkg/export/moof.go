package export

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Reading and patching the moof boxes pkg/record writes (tfhd with
// default-base-is-moof, tfdt, one trun per traf). Only the fields an
// export changes or needs are touched; sizes never change, so the byte
// layout planned from the index holds.

var be = binary.BigEndian

// box walks the child boxes of b, calling fn with each type and body.
func boxes(b []byte, fn func(typ string, body []byte, at int) error) error {
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return errors.New("moof: truncated box header")
		}
		size := int(be.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			return fmt.Errorf("moof: bad box size %d", size)
		}
		if err := fn(string(b[off+4:off+8]), b[off+8:off+size], off+8); err != nil {
			return err
		}
		off += size
	}
	return nil
}

// trackRun is one traf of a moof: its track, decode time and samples.
type trackRun struct {
	track      uint32
	baseTime   uint64
	dataOffset int64 // from the start of the moof
	samples    []runSample
}

type runSample struct {
	dur, size uint32
	sync      bool
	cts       int32
}

// patchMoof rewrites the sequence number and every traf's decode time
// (shift(track, old) gives the new one) of the moof m, in place.
func patchMoof(m []byte, seq uint32, shift func(track uint32, t int64) int64) error {
	if len(m) < 8 || string(m[4:8]) != "moof" {
		return errors.New("part does not start with a moof")
	}
	return boxes(m[8:], func(typ string, body []byte, _ int) error {
		switch typ {
		case "mfhd":
			if len(body) < 8 {
				return errors.New("moof: short mfhd")
			}
			be.PutUint32(body[4:], seq)
		case "traf":
			return patchTraf(body, shift)
		}
		return nil
	})
}

func patchTraf(traf []byte, shift func(track uint32, t int64) int64) error {
	var track uint32
	return boxes(traf, func(typ string, body []byte, _ int) error {
		switch typ {
		case "tfhd":
			if len(body) < 8 {
				return errors.New("moof: short tfhd")
			}
			track = be.Uint32(body[4:])
		case "tfdt":
			if len(body) < 8 {
				return errors.New("moof: short tfdt")
			}
			if body[0] == 1 {
				if len(body) < 12 {
					return errors.New("moof: short tfdt")
				}
				be.PutUint64(body[4:], uint64(max(shift(track, int64(be.Uint64(body[4:]))), 0)))
				return nil
			}
			t := shift(track, int64(be.Uint32(body[4:])))
			if t < 0 || t > 1<<32-1 {
				return errors.New("moof: 32-bit tfdt cannot hold the export's time")
			}
			be.PutUint32(body[4:], uint32(t))
		}
		return nil
	})
}

// readMoof lists the trafs of the moof m.
func readMoof(m []byte) ([]trackRun, error) {
	if len(m) < 8 || string(m[4:8]) != "moof" {
		return nil, errors.New("part does not start with a moof")
	}
	var runs []trackRun
	err := boxes(m[8:], func(typ string, body []byte, _ int) error {
		if typ != "traf" {
			return nil
		}
		tr, err := readTraf(body)
		if err == nil {
			runs = append(runs, tr)
		}
		return err
	})
	return runs, err
}

// tfhd holds the defaults a trun falls back on.
type tfhd struct {
	dur, size, flags uint32
}

func readTraf(traf []byte) (trackRun, error) {
	var tr trackRun
	var def tfhd
	err := boxes(traf, func(typ string, body []byte, _ int) error {
		var err error
		switch typ {
		case "tfhd":
			tr.track, def, err = readTfhd(body)
		case "tfdt":
			if len(body) >= 12 && body[0] == 1 {
				tr.baseTime = be.Uint64(body[4:])
			} else if len(body) >= 8 {
				tr.baseTime = uint64(be.Uint32(body[4:]))
			}
		case "trun":
			err = readTrun(body, def, &tr)
		}
		return err
	})
	return tr, err
}

func readTfhd(b []byte) (uint32, tfhd, error) {
	var d tfhd
	if len(b) < 8 {
		return 0, d, errors.New("moof: short tfhd")
	}
	flags := be.Uint32(b) & 0xffffff
	if flags&0x1 != 0 {
		return 0, d, errors.New("moof: explicit base data offsets are not supported")
	}
	track := be.Uint32(b[4:])
	off := 8
	for _, f := range []struct {
		bit uint32
		dst *uint32
	}{{0x2, nil}, {0x8, &d.dur}, {0x10, &d.size}, {0x20, &d.flags}} {
		if flags&f.bit == 0 {
			continue
		}
		if off+4 > len(b) {
			return 0, d, errors.New("moof: short tfhd")
		}
		if f.dst != nil {
			*f.dst = be.Uint32(b[off:])
		}
		off += 4
	}
	return track, d, nil
}

func readTrun(b []byte, def tfhd, tr *trackRun) error {
	if len(b) < 8 {
		return errors.New("moof: short trun")
	}
	flags := be.Uint32(b) & 0xffffff
	n := int(be.Uint32(b[4:]))
	off := 8
	next := func() (uint32, error) {
		if off+4 > len(b) {
			return 0, errors.New("moof: short trun")
		}
		v := be.Uint32(b[off:])
		off += 4
		return v, nil
	}
	if flags&0x1 != 0 {
		v, err := next()
		if err != nil {
			return err
		}
		tr.dataOffset = int64(int32(v))
	}
	firstFlags, hasFirst := def.flags, false
	if flags&0x4 != 0 {
		v, err := next()
		if err != nil {
			return err
		}
		firstFlags, hasFirst = v, true
	}
	if n > len(b)/4 {
		return errors.New("moof: trun sample count beyond the box")
	}
	tr.samples = make([]runSample, n)
	for i := range tr.samples {
		s := runSample{dur: def.dur, size: def.size}
		sf := def.flags
		if i == 0 && hasFirst {
			sf = firstFlags
		}
		for _, f := range []struct {
			bit uint32
			dst *uint32
		}{{0x100, &s.dur}, {0x200, &s.size}, {0x400, &sf}} {
			if flags&f.bit != 0 {
				v, err := next()
				if err != nil {
					return err
				}
				*f.dst = v
			}
		}
		if flags&0x800 != 0 {
			v, err := next()
			if err != nil {
				return err
			}
			s.cts = int32(v)
		}
		s.sync = sf&0x10000 == 0
		tr.samples[i] = s
	}
	return nil
}
