package detect

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math"
	"strings"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/go2rtc"
)

// SnapshotMotionModel is the detection_model of snapshot motion.
const SnapshotMotionModel = "motion-snapshot"

const (
	// snapEvery is the time from one frame request to the next. go2rtc
	// answers frame.jpeg with the next keyframe it decodes, so a camera's
	// GOP paces the frames as much as this does.
	snapEvery = time.Second
	// gridWidth is the width of the grey frame pictures are shrunk to; its
	// height keeps the picture's aspect. 64×36 for 16:9: 2304 bytes kept
	// per stream, and a cell of a 1080p picture averages 900 pixels, which
	// smooths sensor and JPEG noise away.
	gridWidth = 64
	// cellDelta is how far (in grey levels) a cell's mean must move to
	// count as changed.
	cellDelta = 12
)

// SnapshotMotionFor returns stream s's snapshot motion configuration; ok is
// false unless its detection_model is SnapshotMotionModel.
func SnapshotMotionFor(s *db.Stream) (cfg MotionConfig, ok bool) {
	if !strings.EqualFold(strings.TrimSpace(s.DetectionModel), SnapshotMotionModel) {
		return cfg, false
	}
	return motionConfigOf(s), true
}

// SnapshotMotion detects motion in go2rtc's frame.jpeg pictures of a stream,
// for cameras whose encoder spends bytes evenly whatever moves: every
// snapEvery it shrinks a picture to a small grey grid and compares it with
// the one before, inside the stream's zones. It keeps one grey grid between
// rounds and nothing else; the JPEG and its decoded picture live for one
// round.
type SnapshotMotion struct {
	cfg    MotionConfig
	frames *go2rtc.Client
	log    *slog.Logger
	// area is the fraction of the watched cells that must change.
	area float64

	prev       grid
	onset      time.Time // first changed frame of the motion going on; zero when still
	warnedOnce bool
}

// NewSnapshotMotion returns a stopped detector of cfg.Stream's pictures from
// frames; call Run.
func NewSnapshotMotion(cfg MotionConfig, frames *go2rtc.Client, log *slog.Logger) *SnapshotMotion {
	s := float64(100-min(max(cfg.Sensitivity, 0), 100)) / 100
	return &SnapshotMotion{cfg: cfg, frames: frames, log: log.With("stream", cfg.Stream),
		area: 0.001 + 0.05*s*s} // 0.1 % of the picture at 100, 1.35 % at 50, 5.1 % at 0
}

// Run compares pictures until ctx ends, publishing on bus while they
// change, and returns ctx's error. A frame that cannot be had is retried
// with backoff; the comparison starts again after it.
func (m *SnapshotMotion) Run(ctx context.Context, bus *event.Bus) error {
	wait := backoff.Backoff{Min: snapEvery, Max: time.Minute}
	for {
		start := time.Now()
		if err := m.round(ctx, bus); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			m.failed(err)
			if wait.Wait(ctx) != nil {
				return ctx.Err()
			}
			continue
		}
		wait.Reset()
		if backoff.Sleep(ctx, snapEvery-time.Since(start)) != nil {
			return ctx.Err()
		}
	}
}

// failed forgets the last picture (the camera may come back elsewhere) and
// logs the first failure of a run of them.
func (m *SnapshotMotion) failed(err error) {
	m.prev, m.onset = grid{}, time.Time{}
	if !m.warnedOnce {
		m.log.Warn("snapshot motion: no picture; retrying with backoff", "err", err)
		m.warnedOnce = true
	}
}

// round takes one picture, compares it and publishes when motion is due.
func (m *SnapshotMotion) round(ctx context.Context, bus *event.Bus) error {
	frame, err := frameJPEG(ctx, m.frames, m.cfg.Stream)
	if err != nil {
		return err
	}
	at := time.Now()
	g, err := greyGrid(frame)
	if err != nil {
		return err
	}
	m.warnedOnce = false
	prev := m.prev
	m.prev = g
	if !prev.sameSize(g) {
		return nil
	}
	rules, err := m.rules(ctx)
	if err != nil {
		return err
	}
	box, ok := g.changed(prev, rules.Zones, m.area)
	if !ok {
		m.onset = time.Time{}
		return nil
	}
	if m.onset.IsZero() {
		m.onset = at
	}
	if at.Sub(m.onset) < m.cfg.MinDuration {
		return nil
	}
	if kept := rules.Apply([]event.Detection{box}); len(kept) > 0 {
		bus.Publish(event.Event{Stream: m.cfg.Stream, Time: at, Source: event.SourceMotion, Detections: kept})
	}
	return nil
}

// rules are the stream's zones and object filter; none without a database.
func (m *SnapshotMotion) rules(ctx context.Context) (Rules, error) {
	if m.cfg.DB == nil {
		return Rules{}, nil
	}
	r, err := loadRules(ctx, m.cfg.DB, m.cfg.Stream)
	if err != nil {
		return Rules{}, fmt.Errorf("detection rules: %w", err)
	}
	return r, nil
}

// grid is a picture shrunk to w×h cells of mean grey.
type grid struct {
	w, h int
	px   []uint8
}

func (g grid) sameSize(o grid) bool { return g.w > 0 && g.w == o.w && g.h == o.h }

// greyGrid decodes a JPEG and shrinks it to a grid gridWidth cells wide.
func greyGrid(frame []byte) (grid, error) {
	img, err := jpeg.Decode(bytes.NewReader(frame))
	if err != nil {
		return grid{}, fmt.Errorf("snapshot motion: %w", err)
	}
	b := img.Bounds()
	if b.Dx() < gridWidth || b.Dy() < 1 {
		return grid{}, fmt.Errorf("snapshot motion: a %dx%d picture is too small", b.Dx(), b.Dy())
	}
	g := grid{w: gridWidth, h: max(1, int(math.Round(float64(gridWidth*b.Dy())/float64(b.Dx()))))}
	// About 8 samples per cell along each axis are plenty for a mean: a
	// 1080p picture is read at every third pixel of every third row.
	step := max(1, b.Dx()/(gridWidth*8))
	cols := make([]int, 0, b.Dx()/step+1)
	for x := 0; x < b.Dx(); x += step {
		cols = append(cols, x*g.w/b.Dx())
	}
	sums := make([]uint32, g.w*g.h)
	counts := make([]uint32, g.w*g.h)
	row, line := greyRow(img), make([]uint8, len(cols))
	for y := 0; y < b.Dy(); y += step {
		base := y * g.h / b.Dy() * g.w
		row(b.Min.Y+y, step, line)
		for i, v := range line {
			sums[base+cols[i]] += uint32(v)
			counts[base+cols[i]]++
		}
	}
	g.px = make([]uint8, len(sums))
	for i := range sums {
		g.px[i] = uint8(sums[i] / max(counts[i], 1))
	}
	return g, nil
}

// greyRow returns a reader of one picture row's grey levels at every
// step-th pixel into line: the luma plane of the YCbCr pictures JPEGs
// decode to, read in place, or a conversion for anything else.
func greyRow(img image.Image) func(y, step int, line []uint8) {
	b := img.Bounds()
	if p, ok := img.(*image.YCbCr); ok {
		return func(y, step int, line []uint8) {
			src := p.Y[(y-p.Rect.Min.Y)*p.YStride:]
			for i := range line {
				line[i] = src[i*step]
			}
		}
	}
	return func(y, step int, line []uint8) {
		for i := range line {
			line[i] = color.GrayModel.Convert(img.At(b.Min.X+i*step, y)).(color.Gray).Y
		}
	}
}

// changed compares g with prev over the cells whose centre lies in an
// enabled zone (every cell without zones) and, when at least area of them
// changed, returns the box around the changed ones, with the changed
// fraction as its confidence.
func (g grid) changed(prev grid, zones []Zone, area float64) (event.Detection, bool) {
	watched, hits := 0, 0
	x0, y0, x1, y1 := g.w, g.h, -1, -1
	zoned := anyEnabled(zones)
	for y := range g.h {
		for x := range g.w {
			if zoned && !inAnyZone(zones, Point{X: (float64(x) + 0.5) / float64(g.w), Y: (float64(y) + 0.5) / float64(g.h)}) {
				continue
			}
			watched++
			i := y*g.w + x
			if d := int(g.px[i]) - int(prev.px[i]); d < cellDelta && d > -cellDelta {
				continue
			}
			hits++
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
		}
	}
	if watched == 0 || float64(hits) < area*float64(watched) || hits == 0 {
		return event.Detection{}, false
	}
	w, h := float64(g.w), float64(g.h)
	return event.Detection{Label: "motion", Confidence: min(1, float64(hits)/float64(watched)/area/2), TrackID: -1,
		X: float64(x0) / w, Y: float64(y0) / h, Width: float64(x1-x0+1) / w, Height: float64(y1-y0+1) / h}, true
}

func inAnyZone(zones []Zone, p Point) bool {
	for _, z := range zones {
		if z.Enabled && z.Contains(p) {
			return true
		}
	}
	return false
}
