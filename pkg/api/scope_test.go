package api

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

// tagsEnv has three streams ("front" tagged outdoor, "kitchen" indoor,
// "bare" none), one recording of each, and a user restricted to outdoor.
type tagsEnv struct {
	*authEnv
	restricted, free req
	recs             map[string]int64 // stream → recording id
}

func newTagsEnv(t *testing.T) *tagsEnv {
	t.Helper()
	e := &tagsEnv{authEnv: newAuthEnv(t, envOpts{}), recs: map[string]int64{}}
	ctx := context.Background()
	for name, tags := range map[string]string{"front": "garage, outdoor", "kitchen": "indoor", "bare": ""} {
		s := db.NewStream(name, "rtsp://192.0.2.1/"+name)
		s.Tags = tags
		if err := db.InsertStream(ctx, e.db, s); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(e.cfg.Storage.Path, "mp4", name, "recording_1.mp4")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("not really mp4"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now().Add(-time.Hour).Unix()
		id, err := db.InsertRecording(ctx, e.db, &db.Recording{StreamName: name, FilePath: path, StartTime: start})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CompleteRecording(ctx, e.db, id, db.RecordingEnd{EndTime: start + 30, SizeBytes: 14}); err != nil {
			t.Fatal(err)
		}
		e.recs[name] = id
	}
	tags := " outdoor ,porch"
	u, err := e.svc.CreateUser(ctx, auth.NewUser{Username: "tagged", Password: "tagged-password-1", Role: auth.RoleUser,
		Active: true, AllowedTags: &tags})
	if err != nil {
		t.Fatal(err)
	}
	e.restricted = e.signIn(u, "tagged-password-1")
	e.free = e.signIn(e.addUser("untagged", "untagged-password-1", auth.RoleUser), "untagged-password-1")
	return e
}

func (e *tagsEnv) call(as req, method, path, body string) *resp {
	e.t.Helper()
	as.method, as.path, as.body = method, path, body
	as.headers = map[string]string{"X-Requested-With": "XMLHttpRequest"} // as the UI sends
	return e.do(as)
}

// TestAllowedTagsFilterLists: a user with allowed_tags lists only the
// streams sharing a tag, and only their recordings, whatever stream the
// query names; a user without sees all.
func TestAllowedTagsFilterLists(t *testing.T) {
	e := newTagsEnv(t)
	names := func(r *resp, key string) []string {
		t.Helper()
		expectStatus(t, r, 200, "list")
		var out []string
		if key == "" {
			var rows []map[string]any
			if err := json.Unmarshal(r.body, &rows); err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				out = append(out, row["name"].(string))
			}
		} else {
			for _, row := range r.json(t)["recordings"].([]any) {
				out = append(out, row.(map[string]any)[key].(string))
			}
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		as        req
		path, key string
		want      string
	}{
		{e.restricted, "/api/streams", "", "front"},
		{e.free, "/api/streams", "", "bare front kitchen"},
		{e.restricted, "/api/recordings", "stream", "front"},
		{e.restricted, "/api/recordings?stream=kitchen", "stream", ""},
		{e.restricted, "/api/recordings?stream=kitchen,front", "stream", "front"},
		{e.free, "/api/recordings", "stream", "bare front kitchen"},
	} {
		if got := strings.Join(names(e.call(c.as, "GET", c.path, ""), c.key), " "); got != c.want {
			t.Errorf("GET %s: %q, want %q", c.path, got, c.want)
		}
	}
}

// TestAllowedTagsGuardEveryStreamRoute calls every route that names a
// stream or a recording in its path, for a stream outside the user's tags:
// each answers 403 (an unknown stream is still 404), and nothing changed.
func TestAllowedTagsGuardEveryStreamRoute(t *testing.T) {
	e := newTagsEnv(t)
	var checked int
	for _, rt := range e.srv.Routes() {
		if scopeOf(rt.Pattern) == scopeNone {
			continue
		}
		path := strings.NewReplacer("{name}", "kitchen", "{stream}", "kitchen", "{file}", "1.jpg",
			"{id}", fmt.Sprint(e.recs["kitchen"])).Replace(rt.Pattern)
		r := e.call(e.restricted, rt.Method, path, "{}")
		if r.status != 403 {
			t.Errorf("%s %s as a user without the stream's tags: %d %s", rt.Method, path, r.status, r.body)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d per-stream routes found", checked)
	}
	expectStatus(t, e.call(e.restricted, "GET", "/api/streams/front", ""), 200, "a stream sharing a tag")
	expectStatus(t, e.call(e.restricted, "GET", fmt.Sprintf("/api/recordings/%d", e.recs["front"]), ""), 200,
		"a recording of a stream sharing a tag")
	expectStatus(t, e.call(e.restricted, "GET", "/api/streams/nosuch", ""), 404, "an unknown stream")
	expectStatus(t, e.call(e.restricted, "GET", "/api/recordings/999999", ""), 404, "an unknown recording")
	expectStatus(t, e.call(e.restricted, "GET", "/api/recordings/x", ""), 400, "a malformed id")
	expectStatus(t, e.call(e.free, "GET", "/api/streams/kitchen", ""), 200, "an unrestricted user")
	if _, err := db.GetRecording(context.Background(), e.db, e.recs["kitchen"]); err != nil {
		t.Errorf("the kitchen recording went: %v", err)
	}
}

// TestAllowedTagsBatchDelete: a batch delete by ids or by filter from a
// restricted user leaves the recordings of streams outside their tags.
func TestAllowedTagsBatchDelete(t *testing.T) {
	e := newTagsEnv(t)
	for _, body := range []string{
		fmt.Sprintf(`{"ids":[%d,%d]}`, e.recs["kitchen"], e.recs["bare"]),
		`{"filter":{"stream":"kitchen,bare"}}`,
		`{"filter":{"start":"2000-01-01T00:00:00Z"}}`,
	} {
		r := e.call(e.restricted, "POST", "/api/recordings/batch-delete", body)
		expectStatus(t, r, 202, body)
		job := r.json(t)["job_id"].(string)
		for deadline := time.Now().Add(20 * time.Second); ; {
			p := e.call(e.restricted, "GET", "/api/recordings/batch-delete/progress/"+job, "").json(t)
			if p["complete"] == true {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: job never completed: %v", body, p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, name := range []string{"kitchen", "bare"} {
		if _, err := db.GetRecording(context.Background(), e.db, e.recs[name]); err != nil {
			t.Errorf("%s's recording deleted by a user without its tags: %v", name, err)
		}
	}
	if _, err := db.GetRecording(context.Background(), e.db, e.recs["front"]); err == nil {
		t.Error("front's recording was not deleted by the filter that covers it")
	}
}
