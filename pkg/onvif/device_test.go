package onvif

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"lightnvr/pkg/testkit"
)

// go2rtc serves each of its streams as an ONVIF profile: a device no one
// here wrote.
func TestGo2RTCProfiles(t *testing.T) {
	cam := testkit.StartCamera(t)
	ctx := context.Background()
	d, err := Connect(ctx, fmt.Sprintf("http://127.0.0.1:%d/onvif/device_service", cam.APIPort), "admin", "any")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d.Services.Media, "/onvif/media_service") {
		t.Fatalf("media service %q", d.Services.Media)
	}
	info, err := d.Information(ctx)
	if err != nil || info.Model != "go2rtc" {
		t.Fatalf("information %+v, %v", info, err)
	}
	profiles, err := d.Profiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles) != 1 || profiles[0].Token != "pattern" || profiles[0].Encoding != "H264" || profiles[0].Width == 0 {
		t.Fatalf("profiles %+v", profiles)
	}
	uri, err := d.StreamURI(ctx, "pattern")
	if err != nil || uri != cam.URL() {
		t.Fatalf("stream uri %q, %v; want %q", uri, err, cam.URL())
	}
	snap, err := d.SnapshotURI(ctx, "pattern")
	if err != nil || !strings.Contains(snap, "frame.jpeg") {
		t.Fatalf("snapshot uri %q, %v", snap, err)
	}
}
