package onvif

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// errNoPTZ is returned when the device lists no PTZ service.
var errNoPTZ = errors.New("onvif: device has no PTZ service")

// PTZ moves the head of one media profile.
type PTZ struct {
	dev     *Device
	profile string
}

// Vector is a pan/tilt/zoom triple in ONVIF's generic spaces (-1..1 for
// pan and tilt, 0..1 or -1..1 for zoom); nil axes are left out.
type Vector struct {
	Pan, Tilt, Zoom *float64
}

// Preset is one stored position.
type Preset struct {
	Token string `json:"token"`
	Name  string `json:"name"`
}

// PTZ returns the head of profile, the device's first profile when empty.
func (d *Device) PTZ(ctx context.Context, profile string) (*PTZ, error) {
	if d.Services.PTZ == "" {
		return nil, errNoPTZ
	}
	if profile == "" {
		ps, err := d.Profiles(ctx)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			return nil, errors.New("onvif: device has no media profile")
		}
		profile = ps[0].Token
	}
	return &PTZ{dev: d, profile: profile}, nil
}

type ptzVec struct {
	PanTilt *struct {
		X float64 `xml:"x,attr"`
		Y float64 `xml:"y,attr"`
	} `xml:"tt:PanTilt,omitempty"`
	Zoom *struct {
		X float64 `xml:"x,attr"`
	} `xml:"tt:Zoom,omitempty"`
}

func (v Vector) wire() *ptzVec {
	out := &ptzVec{}
	if v.Pan != nil || v.Tilt != nil {
		out.PanTilt = &struct {
			X float64 `xml:"x,attr"`
			Y float64 `xml:"y,attr"`
		}{X: deref(v.Pan), Y: deref(v.Tilt)}
	}
	if v.Zoom != nil {
		out.Zoom = &struct {
			X float64 `xml:"x,attr"`
		}{X: *v.Zoom}
	}
	return out
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// ptzRequest is every PTZ request: the action's element with the profile
// and the fields that action takes.
type ptzRequest struct {
	XMLName xml.Name
	Attr    []xml.Attr `xml:",any,attr"`
	Profile string     `xml:"tptz:ProfileToken"`
	ptzMoves
	// Stop's axes.
	PanTilt *bool `xml:"tptz:PanTilt,omitempty"`
	Zoom    *bool `xml:"tptz:Zoom,omitempty"`
	ptzPresetRef
}

// ptzMoves are the vectors of the three moves, one set per request.
type ptzMoves struct {
	Velocity    *ptzVec `xml:"tptz:Velocity,omitempty"`
	Translation *ptzVec `xml:"tptz:Translation,omitempty"`
	Position    *ptzVec `xml:"tptz:Position,omitempty"`
}

// ptzPresetRef names a preset to store or go to.
type ptzPresetRef struct {
	PresetName  string `xml:"tptz:PresetName,omitempty"`
	PresetToken string `xml:"tptz:PresetToken,omitempty"`
}

func (p *PTZ) call(ctx context.Context, action string, fill func(*ptzRequest), resp any) error {
	req := ptzRequest{XMLName: xml.Name{Local: "tptz:" + action}, Attr: declare("tptz", NSPTZ), Profile: p.profile}
	if fill != nil {
		fill(&req)
	}
	if err := p.dev.Call(ctx, p.dev.Services.PTZ, req, resp); err != nil {
		return fmt.Errorf("ptz %s: %w", strings.ToLower(action), err)
	}
	return nil
}

// ContinuousMove starts moving at velocity v until Stop.
func (p *PTZ) ContinuousMove(ctx context.Context, v Vector) error {
	return p.call(ctx, "ContinuousMove", func(r *ptzRequest) { r.Velocity = v.wire() }, nil)
}

// RelativeMove moves by v.
func (p *PTZ) RelativeMove(ctx context.Context, v Vector) error {
	return p.call(ctx, "RelativeMove", func(r *ptzRequest) { r.Translation = v.wire() }, nil)
}

// AbsoluteMove moves to v.
func (p *PTZ) AbsoluteMove(ctx context.Context, v Vector) error {
	return p.call(ctx, "AbsoluteMove", func(r *ptzRequest) { r.Position = v.wire() }, nil)
}

// Stop ends every movement.
func (p *PTZ) Stop(ctx context.Context) error {
	yes := true
	return p.call(ctx, "Stop", func(r *ptzRequest) { r.PanTilt, r.Zoom = &yes, &yes }, nil)
}

// GotoHome moves to the home position.
func (p *PTZ) GotoHome(ctx context.Context) error { return p.call(ctx, "GotoHomePosition", nil, nil) }

// SetHome makes the current position home.
func (p *PTZ) SetHome(ctx context.Context) error { return p.call(ctx, "SetHomePosition", nil, nil) }

// Presets lists the stored positions.
func (p *PTZ) Presets(ctx context.Context) ([]Preset, error) {
	var resp struct {
		Presets []struct {
			Token string `xml:"token,attr"`
			Name  string `xml:"Name"`
		} `xml:"Preset"`
	}
	if err := p.call(ctx, "GetPresets", nil, &resp); err != nil {
		return nil, err
	}
	out := make([]Preset, 0, len(resp.Presets))
	for _, pr := range resp.Presets {
		out = append(out, Preset{Token: pr.Token, Name: strings.TrimSpace(pr.Name)})
	}
	return out, nil
}

// SetPreset stores the current position as name and returns its token.
func (p *PTZ) SetPreset(ctx context.Context, name string) (string, error) {
	var resp struct {
		Token string `xml:"PresetToken"`
	}
	if err := p.call(ctx, "SetPreset", func(r *ptzRequest) { r.PresetName = name }, &resp); err != nil {
		return "", err
	}
	return strings.TrimSpace(resp.Token), nil
}

// GotoPreset moves to the stored position token.
func (p *PTZ) GotoPreset(ctx context.Context, token string) error {
	return p.call(ctx, "GotoPreset", func(r *ptzRequest) { r.PresetToken = token }, nil)
}

// declare is the namespace declarations of a request element of the
// service whose prefix is prefix, with the schema's tt.
func declare(prefix, ns string) []xml.Attr {
	return []xml.Attr{{Name: xml.Name{Local: "xmlns:" + prefix}, Value: ns}, {Name: xml.Name{Local: "xmlns:tt"}, Value: NSSchema}}
}
