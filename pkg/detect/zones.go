package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
)

// LightNVR's limits on zones.
const (
	MaxZones      = 16 // per stream
	MaxZonePoints = 32 // per polygon
	minZonePoints = 3
)

// Point is a polygon corner in fractions of the frame (0..1) from its
// top-left corner.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Zone is a detection zone ready for filtering.
type Zone struct {
	ID      string
	Enabled bool
	Polygon []Point
	// Classes are the labels the zone keeps, lower case; none keeps all.
	Classes       []string
	MinConfidence float64
}

// CheckPolygon says what is wrong with a zone polygon, nil when nothing is.
func CheckPolygon(pts []Point) error {
	if len(pts) < minZonePoints || len(pts) > MaxZonePoints {
		return fmt.Errorf("a polygon has %d to %d points, not %d", minZonePoints, MaxZonePoints, len(pts))
	}
	for i, p := range pts {
		if !unit(p.X) || !unit(p.Y) {
			return fmt.Errorf("point %d (%g, %g) is outside the frame: coordinates are 0..1", i, p.X, p.Y)
		}
	}
	return nil
}

func unit(v float64) bool { return v >= 0 && v <= 1 && !math.IsNaN(v) }

// EncodePolygon is the polygon as detection_zones stores it: a JSON array
// of {"x","y"} with six decimals, as LightNVR writes it.
func EncodePolygon(pts []Point) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"x":%s,"y":%s}`, strconv.FormatFloat(p.X, 'f', 6, 64), strconv.FormatFloat(p.Y, 'f', 6, 64))
	}
	b.WriteByte(']')
	return b.String()
}

// ParsePolygon reads a stored polygon.
func ParsePolygon(s string) ([]Point, error) {
	var pts []Point
	if err := json.Unmarshal([]byte(s), &pts); err != nil {
		return nil, fmt.Errorf("parse zone polygon: %w", err)
	}
	return pts, nil
}

// SplitLabels reads a csv of labels: trimmed, lower case, empty entries
// dropped. Labels compare without regard to case.
func SplitLabels(csv string) []string {
	var out []string
	for l := range strings.SplitSeq(csv, ",") {
		if l = strings.ToLower(strings.TrimSpace(l)); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ZoneFromRow reads a stored zone.
func ZoneFromRow(r db.Zone) (Zone, error) {
	pts, err := ParsePolygon(r.Polygon)
	if err != nil {
		return Zone{}, fmt.Errorf("zone %q: %w", r.ID, err)
	}
	return Zone{ID: r.ID, Enabled: r.Enabled, Polygon: pts, Classes: SplitLabels(r.FilterClasses), MinConfidence: r.MinConfidence}, nil
}

// Contains says whether p is inside the polygon; a point on an edge or a
// corner is inside.
func (z Zone) Contains(p Point) bool {
	inside := false
	for i, j := 0, len(z.Polygon)-1; i < len(z.Polygon); j, i = i, i+1 {
		a, b := z.Polygon[i], z.Polygon[j]
		if onSegment(p, a, b) {
			return true
		}
		// Ray casting: count the edges a ray to the right of p crosses.
		if (a.Y > p.Y) != (b.Y > p.Y) && p.X < (b.X-a.X)*(p.Y-a.Y)/(b.Y-a.Y)+a.X {
			inside = !inside
		}
	}
	return inside
}

// onEdgeTolerance absorbs the rounding of six-decimal stored coordinates.
const onEdgeTolerance = 1e-9

func onSegment(p, a, b Point) bool {
	cross := (b.X-a.X)*(p.Y-a.Y) - (b.Y-a.Y)*(p.X-a.X)
	if math.Abs(cross) > onEdgeTolerance {
		return false
	}
	return p.X >= min(a.X, b.X)-onEdgeTolerance && p.X <= max(a.X, b.X)+onEdgeTolerance &&
		p.Y >= min(a.Y, b.Y)-onEdgeTolerance && p.Y <= max(a.Y, b.Y)+onEdgeTolerance
}

// keeps says whether the zone keeps d, whose box centre is c.
func (z Zone) keeps(d event.Detection, c Point) bool {
	if !z.Enabled || d.Confidence < z.MinConfidence {
		return false
	}
	if len(z.Classes) > 0 && !hasLabel(z.Classes, d.Label) {
		return false
	}
	return z.Contains(c)
}

func hasLabel(labels []string, label string) bool {
	label = strings.ToLower(strings.TrimSpace(label))
	for _, l := range labels {
		if l == label {
			return true
		}
	}
	return false
}

// filterZones keeps the detections whose box centre lies in an enabled zone
// that takes their label and confidence, each with that zone's id (the
// first such zone in order). Without enabled zones every detection is kept
// as it is.
func filterZones(zones []Zone, dets []event.Detection) []event.Detection {
	if !anyEnabled(zones) {
		return dets
	}
	var out []event.Detection
	for _, d := range dets {
		c := Point{X: d.X + d.Width/2, Y: d.Y + d.Height/2}
		for _, z := range zones {
			if z.keeps(d, c) {
				d.ZoneID = z.ID
				out = append(out, d)
				break
			}
		}
	}
	return out
}

func anyEnabled(zones []Zone) bool {
	for _, z := range zones {
		if z.Enabled {
			return true
		}
	}
	return false
}

// ObjectFilter is a stream's detection_object_filter: which labels count.
type ObjectFilter struct {
	mode   string // "none", "include" or "exclude"
	labels []string
}

// ErrFilterMode is an object filter mode other than none, include, exclude.
var ErrFilterMode = errors.New("detection_object_filter is none, include or exclude")

// NewObjectFilter reads a stream's detection_object_filter and its csv
// list. An empty list filters nothing, whatever the mode: an include filter
// left empty must not silently drop every detection.
func NewObjectFilter(mode, list string) (ObjectFilter, error) {
	switch mode {
	case "", "none":
		return ObjectFilter{mode: "none"}, nil
	case "include", "exclude":
		labels := SplitLabels(list)
		if len(labels) == 0 {
			return ObjectFilter{mode: "none"}, nil
		}
		return ObjectFilter{mode: mode, labels: labels}, nil
	}
	return ObjectFilter{}, fmt.Errorf("%q: %w", mode, ErrFilterMode)
}

// keeps says whether a detection with label counts.
func (f ObjectFilter) keeps(label string) bool {
	switch f.mode {
	case "include":
		return hasLabel(f.labels, label)
	case "exclude":
		return !hasLabel(f.labels, label)
	}
	return true
}

// Rules are everything that decides which of a stream's detections count.
type Rules struct {
	Zones   []Zone
	Objects ObjectFilter
}

// Apply returns the detections the rules keep: the object filter first,
// then the zones.
func (r Rules) Apply(dets []event.Detection) []event.Detection {
	var kept []event.Detection
	for _, d := range dets {
		if r.Objects.keeps(d.Label) {
			kept = append(kept, d)
		}
	}
	return filterZones(r.Zones, kept)
}
