package db

import (
	"reflect"
	"slices"
	"testing"
)

// Every column of streams has its tagged field in Stream and every field its
// column: a field added without its migration, or a migration without its
// field, fails here.
func TestStreamFieldsMatchSchema(t *testing.T) {
	d := migratedTemp(t)
	var cols []string
	for _, c := range schTableColumns(t, d, "streams") {
		cols = append(cols, c.name)
	}
	var fields []string
	for _, f := range StreamFields() {
		fields = append(fields, f.Column)
	}
	slices.Sort(cols)
	slices.Sort(fields)
	if !slices.Equal(cols, fields) {
		t.Errorf("streams columns and db.Stream's tags differ:\n columns %v\n  fields %v", cols, fields)
	}
}

// A new stream's values, and what a NULL column reads as, come from the tags.
func TestStreamDefaults(t *testing.T) {
	s := NewStream("cam", "rtsp://cam/1")
	if s.Name != "cam" || s.URL != "rtsp://cam/1" || !s.Enabled || s.SegmentDuration != 30 || s.Codec != "h264" ||
		s.DetectionThreshold != 0.5 || s.RetentionDays != -1 || s.BufferStrategy != "auto" || s.Protocol != 0 {
		t.Fatalf("new stream: %+v", s)
	}
	byCol := map[string]*StreamField{}
	for _, f := range StreamFields() {
		byCol[f.Column] = f
	}
	for col, want := range map[string]string{"segment_duration": "900", "codec": "''", "enabled": "1",
		"buffer_strategy": "'auto'", "tier_ephemeral_multiplier": "0.25", "tags": "''"} {
		if got := byCol[col].nullSQL; got != want {
			t.Errorf("NULL %s reads as %s, want %s", col, got, want)
		}
	}
}

// A tag the table cannot read is refused with the field's tag named.
func TestStreamFieldBadTags(t *testing.T) {
	type bad struct {
		Opt    int    `stream:"a,colour"`
		Min    int    `stream:"b,min=low"`
		Viewer int    `stream:"c,viewer=hide"`
		Dflt   bool   `stream:"d,default=maybe"`
		Vis    string `stream:"e,viewer=all"`
		None   string
	}
	typ := reflect.TypeFor[bad]()
	for i := range typ.NumField() {
		if f, err := parseStreamField(typ.Field(i)); err == nil {
			t.Errorf("%s: parsed as %+v, want an error", typ.Field(i).Name, f)
		}
	}
}
