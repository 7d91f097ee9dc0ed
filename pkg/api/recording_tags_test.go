package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/export/exporttest"
)

// newRecordedEnv is a recEnv whose stream "cam" has n real recordings of
// 2 s each, written by the recorder from an ffmpeg clip, oldest first.
func newRecordedEnv(t *testing.T, n int) (*recEnv, []*db.Recording) {
	t.Helper()
	e := newRecEnv(t)
	if err := db.InsertStream(context.Background(), e.db, db.NewStream("cam", "rtsp://127.0.0.1:8554/cam")); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	exporttest.LoadClip(t, time.Second).Record(t, e.db, e.cfg.Storage.Path, "cam", 2*time.Second,
		exporttest.Span{Start: start, Length: time.Duration(n) * 2 * time.Second})
	recs, err := db.StreamRecordings(context.Background(), e.db, "cam")
	if err != nil || len(recs) < n {
		t.Fatalf("recorded %d recordings (%v), want %d", len(recs), err, n)
	}
	return e, recs
}

func tagList(t *testing.T, r *resp) []string {
	t.Helper()
	var out []string
	for _, v := range r.json(t)["tags"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// TestRecordingTags walks LightNVR's tag flow: set a recording's tags,
// read them back, edit several in one batch, list every tag in use.
func TestRecordingTags(t *testing.T) {
	e, recs := newRecordedEnv(t, 3)
	a, b := recs[0].ID, recs[1].ID
	tagsPath := func(id int64) string { return fmt.Sprintf("/api/recordings/%d/tags", id) }

	r := e.as("viewer", req{method: "GET", path: tagsPath(a)})
	expectStatus(t, r, 200, "tags of an untagged recording")
	if got := r.json(t); got["id"] != float64(a) || len(got["tags"].([]any)) != 0 {
		t.Fatalf("untagged recording: %s, want {id:%d, tags:[]}", r.body, a)
	}
	r = e.as("user", req{method: "PUT", path: tagsPath(a), body: `{"tags":[" car ","person","car",""]}`})
	expectStatus(t, r, 200, "set tags")
	if got := tagList(t, r); !slices.Equal(got, []string{"car", "person"}) {
		t.Fatalf("set tags replied %v, want [car person]", got)
	}
	r = e.as("api", req{method: "PUT", path: tagsPath(a), body: `{"tags":["person","night"]}`})
	expectStatus(t, r, 200, "replace tags")
	if got := tagList(t, e.as("viewer", req{method: "GET", path: tagsPath(a)})); !slices.Equal(got, []string{"night", "person"}) {
		t.Fatalf("after replacing: %v, want [night person] (car dropped)", got)
	}

	r = e.as("user", req{method: "POST", path: "/api/recordings/batch-tags",
		body: fmt.Sprintf(`{"ids":[%d,%d,999999],"add":["review"],"remove":["night"]}`, a, b)})
	expectStatus(t, r, 200, "batch tags")
	got := r.json(t)
	if got["recordings_count"] != float64(2) || got["tags_added"] != float64(2) || got["tags_removed"] != float64(1) {
		t.Fatalf("batch tags: %s, want 2 recordings, 2 added, 1 removed", r.body)
	}
	r = e.as("viewer", req{method: "GET", path: "/api/recordings/tags"})
	expectStatus(t, r, 200, "all tags")
	if got := tagList(t, r); !slices.Equal(got, []string{"person", "review"}) {
		t.Fatalf("all tags: %v, want [person review]", got)
	}
	r = e.as("viewer", req{method: "GET", path: "/api/recordings?tag=review"})
	expectStatus(t, r, 200, "list by tag")
	if n := r.json(t)["pagination"].(map[string]any)["total"]; n != float64(2) {
		t.Fatalf("recordings tagged review: %v, want 2", n)
	}
}

func TestRecordingTagsBadInput(t *testing.T) {
	e, recs := newRecordedEnv(t, 1)
	path := fmt.Sprintf("/api/recordings/%d/tags", recs[0].ID)
	e.expectRefused("admin", []refusal{
		{"PUT", path, `{}`, 400},
		{"PUT", path, `{"tags":"car"}`, 400},
		{"PUT", path, `{"tags":["a,b"]}`, 400},
		{"PUT", path, `{"tags":["` + strings.Repeat("x", 65) + `"]}`, 400},
		{"PUT", "/api/recordings/999999/tags", `{"tags":["a"]}`, 404},
		{"GET", "/api/recordings/999999/tags", ``, 404},
		{"GET", "/api/recordings/x/tags", ``, 400},
		{"POST", "/api/recordings/batch-tags", `{"ids":[],"add":["a"]}`, 400},
		{"POST", "/api/recordings/batch-tags", fmt.Sprintf(`{"ids":[%d]}`, recs[0].ID), 400},
	})
}

// refusal is a request that must be refused with status want.
type refusal struct {
	method, path, body string
	want               int
}

// expectRefused sends each request as role and checks its status and
// that the reply is an error object.
func (e *recEnv) expectRefused(role string, cases []refusal) {
	e.t.Helper()
	for _, c := range cases {
		r := e.as(role, req{method: c.method, path: c.path, body: c.body})
		expectStatus(e.t, r, c.want, c.method+" "+c.path+" "+c.body)
		expectErrorBody(e.t, r)
	}
}

// TestRecordingTagsScope: a user limited by allowed_tags neither reads
// nor changes the tags of recordings outside their streams, and does not
// see those tags in the list of all tags.
func TestRecordingTagsScope(t *testing.T) {
	e := newTagsEnv(t)
	for name, id := range e.recs {
		r := e.call(e.free, "PUT", fmt.Sprintf("/api/recordings/%d/tags", id), `{"tags":["on-`+name+`"]}`)
		expectStatus(t, r, 200, "tag "+name)
	}
	expectStatus(t, e.call(e.restricted, "GET", fmt.Sprintf("/api/recordings/%d/tags", e.recs["kitchen"]), ""), 403, "another stream's tags")
	expectStatus(t, e.call(e.restricted, "PUT", fmt.Sprintf("/api/recordings/%d/tags", e.recs["kitchen"]), `{"tags":[]}`), 403, "set another stream's tags")
	r := e.call(e.restricted, "POST", "/api/recordings/batch-tags", fmt.Sprintf(`{"ids":[%d,%d],"remove":["on-kitchen","on-front"]}`, e.recs["kitchen"], e.recs["front"]))
	expectStatus(t, r, 200, "batch over two streams")
	if got := r.json(t); got["recordings_count"] != float64(1) || got["tags_removed"] != float64(1) {
		t.Fatalf("restricted batch: %s, want only the front recording changed", r.body)
	}
	if got := tagList(t, e.call(e.free, "GET", "/api/recordings/tags", "")); !slices.Equal(got, []string{"on-bare", "on-kitchen"}) {
		t.Fatalf("all tags as an unrestricted user: %v", got)
	}
	if got := tagList(t, e.call(e.restricted, "GET", "/api/recordings/tags", "")); len(got) != 0 {
		t.Fatalf("all tags as the restricted user: %v, want none (front's tag was removed)", got)
	}
}
