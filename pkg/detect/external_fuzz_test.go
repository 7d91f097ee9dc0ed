package detect

import (
	"strings"
	"testing"
)

// FuzzParseReply: whatever a detector answers, the parser returns an error or
// detections that hold the event contract (a label, confidence in 0..1, a box
// inside the frame), and never panics.
func FuzzParseReply(f *testing.F) {
	for _, seed := range []string{
		`{"detections":[{"label":"person","confidence":0.91,"bounding_box":{"x_min":0.1,"y_min":0.2,"x_max":0.4,"y_max":0.8},"track_id":7}]}`,
		`{"detections":[{"label":"dog","confidence":0.6,"bounding_box":{"x_min":0.75,"y_min":-0.02,"x_max":1.04,"y_max":0.5}}]}`,
		`{"detections":[]}`,
		`{"detections":null}`,
		`{"detections":[{"label":"car","confidence":90,"bounding_box":{"x_min":10,"y_min":20,"x_max":110,"y_max":220}}]}`,
		`<html><body>502 Bad Gateway</body></html>`,
		`{"detections":[{"label":"","confidence":0.5,"bounding_box":{}}]}`,
		`[]`, `null`, ``, `{"detections":[{"label":"x","confidence":1e400}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dets, err := parseReply(b)
		if err != nil {
			if dets != nil {
				t.Fatalf("error %v with detections %+v", err, dets)
			}
			return
		}
		for _, d := range dets {
			if strings.TrimSpace(d.Label) == "" || len(d.Label) > maxLabel {
				t.Fatalf("label %q", d.Label)
			}
			if !(d.Confidence >= 0 && d.Confidence <= 1) {
				t.Fatalf("confidence %v", d.Confidence)
			}
			if !(d.X >= 0 && d.Y >= 0 && d.Width >= 0 && d.Height >= 0 && d.X+d.Width <= 1+1e-9 && d.Y+d.Height <= 1+1e-9) {
				t.Fatalf("box %+v outside the frame", d)
			}
			if d.TrackID < -1 {
				t.Fatalf("track %d", d.TrackID)
			}
		}
	})
}
