package onvif_test

import (
	"context"
	"testing"
	"time"

	"lightnvr/pkg/onvif"
	"lightnvr/pkg/testkit"
)

// wireVector is a PTZ vector as it arrives at the device.
type wireVector struct {
	PanTilt struct {
		X float64 `xml:"x,attr"`
		Y float64 `xml:"y,attr"`
	} `xml:"PanTilt"`
	Zoom struct {
		X float64 `xml:"x,attr"`
	} `xml:"Zoom"`
}

type wireRequest struct {
	Profile     string     `xml:"ProfileToken"`
	Velocity    wireVector `xml:"Velocity"`
	Translation wireVector `xml:"Translation"`
	Position    wireVector `xml:"Position"`
	PanTilt     bool       `xml:"PanTilt"`
	Zoom        bool       `xml:"Zoom"`
	PresetName  string     `xml:"PresetName"`
	PresetToken string     `xml:"PresetToken"`
}

func f(v float64) *float64 { return &v }

// connect reaches a test device whose clock runs an hour ahead: its digest
// check accepts only a client that corrected for that.
func connect(t *testing.T) (*onvif.Device, *testkit.ONVIFCamera) {
	t.Helper()
	dev := testkit.StartONVIFCamera(t, testkit.ONVIFCameraOptions{User: "admin", Password: "pw", Skew: time.Hour})
	d, err := onvif.Connect(context.Background(), dev.URL(), "admin", "pw")
	if err != nil {
		t.Fatal(err)
	}
	return d, dev
}

// Every PTZ call reaches the device with its profile and the values asked.
func TestPTZCallsReachTheDevice(t *testing.T) {
	d, dev := connect(t)
	ctx := context.Background()
	p, err := d.PTZ(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		action string
		do     func() error
		check  func(r wireRequest) bool
	}{
		{"ContinuousMove", func() error { return p.ContinuousMove(ctx, onvif.Vector{Pan: f(0.5), Tilt: f(-0.25), Zoom: f(0.1)}) },
			func(r wireRequest) bool {
				return r.Velocity.PanTilt.X == 0.5 && r.Velocity.PanTilt.Y == -0.25 && r.Velocity.Zoom.X == 0.1
			}},
		{"Stop", func() error { return p.Stop(ctx) }, func(r wireRequest) bool { return r.PanTilt && r.Zoom }},
		{"AbsoluteMove", func() error { return p.AbsoluteMove(ctx, onvif.Vector{Pan: f(0.3), Tilt: f(0.2), Zoom: f(0.5)}) },
			func(r wireRequest) bool {
				return r.Position.PanTilt.X == 0.3 && r.Position.PanTilt.Y == 0.2 && r.Position.Zoom.X == 0.5
			}},
		{"RelativeMove", func() error { return p.RelativeMove(ctx, onvif.Vector{Pan: f(-0.1), Tilt: f(0.1)}) },
			func(r wireRequest) bool { return r.Translation.PanTilt.X == -0.1 && r.Translation.PanTilt.Y == 0.1 }},
		{"SetHomePosition", func() error { return p.SetHome(ctx) }, func(wireRequest) bool { return true }},
		{"GotoHomePosition", func() error { return p.GotoHome(ctx) }, func(wireRequest) bool { return true }},
		{"SetPreset", func() error {
			tok, err := p.SetPreset(ctx, "gate")
			if err == nil && tok == "" {
				t.Error("SetPreset returned no token")
			}
			return err
		}, func(r wireRequest) bool { return r.PresetName == "gate" }},
		{"GotoPreset", func() error { return p.GotoPreset(ctx, "1") }, func(r wireRequest) bool { return r.PresetToken == "1" }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		calls := dev.CallsOf(st.action)
		if len(calls) != 1 {
			t.Fatalf("%s reached the device %d times", st.action, len(calls))
		}
		var r wireRequest
		if err := calls[0].Decode(&r); err != nil || r.Profile != testkit.ONVIFProfileToken || !st.check(r) {
			t.Errorf("%s body %s (%v)", st.action, calls[0].Body, err)
		}
	}
	presets, err := p.Presets(ctx)
	if err != nil || len(presets) != 1 || presets[0].Name != "gate" || presets[0].Token != "1" {
		t.Fatalf("presets %+v, %v", presets, err)
	}
	if err := p.GotoPreset(ctx, "nope"); err == nil {
		t.Fatal("a preset the device lacks was accepted")
	}
}

// Imaging settings round-trip, and day/night sets the IR cut filter.
func TestImagingRoundTripAndDayNight(t *testing.T) {
	d, dev := connect(t)
	ctx := context.Background()
	src := testkit.ONVIFVideoSourceToken
	s, err := d.Imaging(ctx, src)
	if err != nil || s.Brightness == nil || *s.Brightness != 50 || s.IrCutFilter == nil || *s.IrCutFilter != "AUTO" {
		t.Fatalf("settings %+v, %v", s, err)
	}
	if err := d.SetImaging(ctx, src, onvif.ImagingSettings{Brightness: f(70), WDR: &onvif.ModeLevel{Mode: "ON", Level: f(30)}}, false); err != nil {
		t.Fatal(err)
	}
	s, err = d.Imaging(ctx, src)
	if err != nil || *s.Brightness != 70 || *s.Contrast != 50 || s.WDR.Mode != "ON" || *s.WDR.Level != 30 {
		t.Fatalf("after set: %+v, %v", s, err)
	}
	for mode, want := range map[string]string{"night": "OFF", "day": "ON", "auto": "AUTO"} {
		ir, ok := onvif.IrCutFor(mode)
		if !ok {
			t.Fatalf("mode %s unknown", mode)
		}
		if err := d.SetImaging(ctx, src, onvif.ImagingSettings{IrCutFilter: &ir}, true); err != nil {
			t.Fatal(err)
		}
		if got := dev.ONVIFIrCutFilter(); got != want {
			t.Fatalf("%s: the device's IR cut filter is %s, want %s", mode, got, want)
		}
	}
	if err := d.SetImaging(ctx, src, onvif.ImagingSettings{Brightness: f(300)}, false); err == nil {
		t.Fatal("a brightness out of range was accepted")
	}
}

// A wrong password and a client that ignores the device's clock are both
// refused with a NotAuthorized fault.
func TestDeviceRefusesBadDigests(t *testing.T) {
	dev := testkit.StartONVIFCamera(t, testkit.ONVIFCameraOptions{User: "admin", Password: "pw", Skew: time.Hour})
	if _, err := onvif.Connect(context.Background(), dev.URL(), "admin", "wrong"); !onvif.IsAuthFault(err) {
		t.Fatalf("wrong password: %v", err)
	}
	c := onvif.NewClient("admin", "pw") // never synced: Created is an hour off
	if err := c.Call(context.Background(), dev.URL(), struct {
		XMLName struct{} `xml:"tds:GetDeviceInformation"`
	}{}, nil); !onvif.IsAuthFault(err) {
		t.Fatalf("stale Created: %v", err)
	}
}
