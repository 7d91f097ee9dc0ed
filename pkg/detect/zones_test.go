package detect

import (
	"errors"
	"slices"
	"testing"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
)

// An L-shaped (concave) zone: the frame's left column and bottom row, with
// the top-right quarter cut out.
var lShape = []Point{{0, 0}, {0.5, 0}, {0.5, 0.5}, {1, 0.5}, {1, 1}, {0, 1}}

func TestZoneContains(t *testing.T) {
	square := []Point{{0.2, 0.2}, {0.6, 0.2}, {0.6, 0.6}, {0.2, 0.6}}
	// A "U": two prongs joined at the bottom; the notch between them is outside.
	u := []Point{{0, 0}, {0.3, 0}, {0.3, 0.7}, {0.7, 0.7}, {0.7, 0}, {1, 0}, {1, 1}, {0, 1}}
	for _, tc := range []struct {
		name string
		poly []Point
		p    Point
		want bool
	}{
		{"square centre", square, Point{0.4, 0.4}, true},
		{"square outside right", square, Point{0.7, 0.4}, false},
		{"square outside above", square, Point{0.4, 0.1}, false},
		{"square left edge", square, Point{0.2, 0.4}, true},
		{"square top edge", square, Point{0.4, 0.2}, true},
		{"square corner", square, Point{0.6, 0.6}, true},
		{"square just past corner", square, Point{0.6000001, 0.6000001}, false},
		{"L in the column", lShape, Point{0.25, 0.25}, true},
		{"L in the row", lShape, Point{0.75, 0.75}, true},
		{"L in the cut-out", lShape, Point{0.75, 0.25}, false},
		{"L on the inner corner", lShape, Point{0.5, 0.5}, true},
		{"L on the inner edge", lShape, Point{0.75, 0.5}, true},
		{"L on the ray through the inner corner", lShape, Point{0.25, 0.5}, true},
		{"U in the notch", u, Point{0.5, 0.3}, false},
		{"U in the left prong", u, Point{0.15, 0.3}, true},
		{"U in the right prong, level with the notch", u, Point{0.85, 0.3}, true},
		{"U below the notch", u, Point{0.5, 0.85}, true},
		{"U on the notch floor", u, Point{0.5, 0.7}, true},
		{"degenerate two points", []Point{{0, 0}, {1, 1}}, Point{0.5, 0.4}, false},
	} {
		if got := (Zone{Polygon: tc.poly}).Contains(tc.p); got != tc.want {
			t.Errorf("%s: Contains(%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

// box is a detection of size 0.1 whose centre is c.
func box(label string, conf float64, c Point) event.Detection {
	return event.Detection{Label: label, Confidence: conf, X: c.X - 0.05, Y: c.Y - 0.05, Width: 0.1, Height: 0.1, TrackID: -1}
}

func labelsOf(dets []event.Detection) []string {
	var out []string
	for _, d := range dets {
		out = append(out, d.Label+"@"+d.ZoneID)
	}
	return out
}

func TestFilterZones(t *testing.T) {
	in := []event.Detection{
		box("person", 0.9, Point{0.25, 0.25}), // in the L's column
		box("car", 0.8, Point{0.75, 0.75}),    // in the L's row
		box("person", 0.9, Point{0.75, 0.25}), // in the cut-out
		box("dog", 0.3, Point{0.1, 0.9}),      // in the L, low confidence
	}
	l := Zone{ID: "L", Enabled: true, Polygon: lShape}
	cutout := Zone{ID: "cut", Enabled: true, Polygon: []Point{{0.5, 0}, {1, 0}, {1, 0.5}, {0.5, 0.5}}}
	for _, tc := range []struct {
		name  string
		zones []Zone
		want  []string
	}{
		{"no zones keep all", nil, []string{"person@", "car@", "person@", "dog@"}},
		{"disabled zones keep all", []Zone{{ID: "off", Polygon: lShape}}, []string{"person@", "car@", "person@", "dog@"}},
		{"centre in the concave zone", []Zone{l}, []string{"person@L", "car@L", "dog@L"}},
		{"class filter", []Zone{{ID: "L", Enabled: true, Polygon: lShape, Classes: []string{"person", "dog"}}}, []string{"person@L", "dog@L"}},
		{"min confidence", []Zone{{ID: "L", Enabled: true, Polygon: lShape, MinConfidence: 0.5}}, []string{"person@L", "car@L"}},
		{"first matching zone names it", []Zone{cutout, l}, []string{"person@L", "car@L", "person@cut", "dog@L"}},
		{"a disabled zone keeps nothing", []Zone{{ID: "off", Polygon: lShape}, cutout}, []string{"person@cut"}},
		{"class mismatch falls through to the next zone",
			[]Zone{{ID: "cars", Enabled: true, Polygon: lShape, Classes: []string{"car"}}, {ID: "all", Enabled: true, Polygon: lShape}},
			[]string{"person@all", "car@cars", "dog@all"}},
	} {
		if got := labelsOf(filterZones(tc.zones, in)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: kept %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestObjectFilter(t *testing.T) {
	for _, tc := range []struct {
		mode, list string
		want       []string
	}{
		{"none", "person", []string{"person", "Car", "dog"}},
		{"", "", []string{"person", "Car", "dog"}},
		{"include", "person, car", []string{"person", "Car"}},
		{"exclude", "CAR,,dog ", []string{"person"}},
		{"include", " , ", []string{"person", "Car", "dog"}}, // an empty list filters nothing
	} {
		f, err := NewObjectFilter(tc.mode, tc.list)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range []string{"person", "Car", "dog"} {
			if f.keeps(l) {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: kept %v, want %v", tc.mode, tc.list, got, tc.want)
		}
	}
	if _, err := NewObjectFilter("only", "x"); !errors.Is(err, ErrFilterMode) {
		t.Errorf("mode only: %v, want ErrFilterMode", err)
	}
}

// Rules apply the object filter before the zones.
func TestRulesApply(t *testing.T) {
	objects, _ := NewObjectFilter("exclude", "car")
	r := Rules{Zones: []Zone{{ID: "L", Enabled: true, Polygon: lShape}}, Objects: objects}
	in := []event.Detection{box("car", 0.9, Point{0.25, 0.25}), box("person", 0.9, Point{0.25, 0.25}), box("person", 0.9, Point{0.75, 0.25})}
	if got := labelsOf(r.Apply(in)); !slices.Equal(got, []string{"person@L"}) {
		t.Errorf("kept %v, want [person@L]", got)
	}
}

func TestPolygonRoundTrip(t *testing.T) {
	pts := []Point{{0, 0}, {0.1234567, 0.5}, {1, 1}}
	s := EncodePolygon(pts)
	if s != `[{"x":0.000000,"y":0.000000},{"x":0.123457,"y":0.500000},{"x":1.000000,"y":1.000000}]` {
		t.Fatalf("encoded %s", s)
	}
	z, err := ZoneFromRow(db.Zone{ID: "z", Enabled: true, Polygon: s, FilterClasses: "Person, car"})
	if err != nil {
		t.Fatal(err)
	}
	if len(z.Polygon) != 3 || z.Polygon[1].X != 0.123457 || !slices.Equal(z.Classes, []string{"person", "car"}) {
		t.Errorf("read back %+v", z)
	}
	if _, err := ZoneFromRow(db.Zone{ID: "bad", Polygon: "not json"}); err == nil {
		t.Error("a polygon that is not JSON was read")
	}
}

func TestCheckPolygon(t *testing.T) {
	tooMany := make([]Point, MaxZonePoints+1)
	for _, tc := range []struct {
		name string
		pts  []Point
		ok   bool
	}{
		{"triangle", []Point{{0, 0}, {1, 0}, {0, 1}}, true},
		{"two points", []Point{{0, 0}, {1, 0}}, false},
		{"too many points", tooMany, false},
		{"outside the frame", []Point{{0, 0}, {1.2, 0}, {0, 1}}, false},
		{"negative", []Point{{0, -0.1}, {1, 0}, {0, 1}}, false},
	} {
		if err := CheckPolygon(tc.pts); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
