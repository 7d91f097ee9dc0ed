package api

import (
	"encoding/json"
	"fmt"
	"testing"

	"lightnvr/pkg/auth"
)

// LightNVR's own UI saves an edited stream as the object it read plus
// is_deleted:false; the edit must go through.
func TestStreamEditAsLightNVRsUISavesIt(t *testing.T) {
	e := newStreamEnv(t)
	if code, body := e.do(t, "admin", "POST", "/api/streams", `{"name":"cam1","url":"`+e.cam.URL()+`"}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	_, body := e.do(t, "admin", "GET", "/api/streams/cam1", "")
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	got["priority"], got["is_deleted"] = 10, false
	upd, _ := json.Marshal(got)
	if code, body := e.do(t, "admin", "PUT", "/api/streams/cam1", string(upd)); code >= 300 {
		t.Fatalf("edit: %d %s", code, body)
	}
	_, body = e.do(t, "admin", "GET", "/api/streams/cam1", "")
	if err := json.Unmarshal(body, &got); err != nil || got["priority"] != float64(10) {
		t.Fatalf("after the edit: %v %s", err, body)
	}
}

// LightNVR's Add User form sends password_change_locked; the new user is
// created with the lock it asked for.
func TestCreateUserWithPasswordLock(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	key := e.apiKeyFor(e.addUser("admin", "admin-password", auth.RoleAdmin).ID)
	for _, locked := range []bool{false, true} {
		name := fmt.Sprintf("locked-%t", locked)
		r := e.do(req{method: "POST", path: "/api/auth/users", apiKey: key,
			body: fmt.Sprintf(`{"username":%q,"password":"long-enough","email":"","role":1,"is_active":true,"password_change_locked":%t}`, name, locked)})
		expectStatus(t, r, 200, "create "+name)
		if m := r.json(t); m["password_change_locked"] != locked {
			t.Errorf("%s: password_change_locked = %v: %s", name, m["password_change_locked"], r.body)
		}
	}
}

// LightNVR's Edit User form sends password "" to keep the password.
func TestUpdateUserBlankPasswordKeepsIt(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	key := e.apiKeyFor(e.addUser("admin", "admin-password", auth.RoleAdmin).ID)
	u := e.addUser("walker", "walker-password", auth.RoleUser)
	r := e.do(req{method: "PUT", path: fmt.Sprintf("/api/auth/users/%d", u.ID), apiKey: key,
		body: `{"username":"walker","email":"w@example.org","password":"","role":1,"is_active":true}`})
	expectStatus(t, r, 200, "edit with a blank password")
	e.login("walker", "walker-password")
}
