package onvif

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// Profile is one media profile: a video source with its encoder settings.
type Profile struct {
	Token            string
	Name             string
	VideoSourceToken string
	Encoding         string
	Width, Height    int
	FPS              int
	Bitrate          int // kbit/s, as ONVIF's BitrateLimit
}

type getProfiles struct {
	XMLName xml.Name `xml:"trt:GetProfiles"`
	NS      string   `xml:"xmlns:trt,attr"`
}

type getProfilesResponse struct {
	Profiles []struct {
		Token string `xml:"token,attr"`
		Name  string `xml:"Name"`
		VSC   struct {
			SourceToken string `xml:"SourceToken"`
		} `xml:"VideoSourceConfiguration"`
		VEC struct {
			Encoding   string `xml:"Encoding"`
			Resolution struct {
				Width  int `xml:"Width"`
				Height int `xml:"Height"`
			} `xml:"Resolution"`
			RateControl struct {
				FrameRateLimit int `xml:"FrameRateLimit"`
				BitrateLimit   int `xml:"BitrateLimit"`
			} `xml:"RateControl"`
		} `xml:"VideoEncoderConfiguration"`
	} `xml:"Profiles"`
}

// errNoMedia is returned when the device lists no media service.
var errNoMedia = errors.New("onvif: device has no media service")

// Profiles lists the device's media profiles.
func (d *Device) Profiles(ctx context.Context) ([]Profile, error) {
	if d.Services.Media == "" {
		return nil, errNoMedia
	}
	var resp getProfilesResponse
	if err := d.Call(ctx, d.Services.Media, getProfiles{NS: NSMedia}, &resp); err != nil {
		return nil, fmt.Errorf("get profiles: %w", err)
	}
	out := make([]Profile, 0, len(resp.Profiles))
	for _, p := range resp.Profiles {
		if p.Token == "" {
			continue
		}
		out = append(out, Profile{
			Token: p.Token, Name: strings.TrimSpace(p.Name), VideoSourceToken: strings.TrimSpace(p.VSC.SourceToken),
			Encoding: strings.TrimSpace(p.VEC.Encoding), Width: p.VEC.Resolution.Width, Height: p.VEC.Resolution.Height,
			FPS: p.VEC.RateControl.FrameRateLimit, Bitrate: p.VEC.RateControl.BitrateLimit,
		})
	}
	return out, nil
}

type getStreamURI struct {
	XMLName     xml.Name `xml:"trt:GetStreamUri"`
	NS          string   `xml:"xmlns:trt,attr"`
	NSSchema    string   `xml:"xmlns:tt,attr"`
	StreamSetup struct {
		Stream    string `xml:"tt:Stream"`
		Transport struct {
			Protocol string `xml:"tt:Protocol"`
		} `xml:"tt:Transport"`
	} `xml:"trt:StreamSetup"`
	ProfileToken string `xml:"trt:ProfileToken"`
}

type getSnapshotURI struct {
	XMLName      xml.Name `xml:"trt:GetSnapshotUri"`
	NS           string   `xml:"xmlns:trt,attr"`
	ProfileToken string   `xml:"trt:ProfileToken"`
}

type mediaURIResponse struct {
	MediaURI struct {
		URI string `xml:"Uri"`
	} `xml:"MediaUri"`
}

// StreamURI is the RTSP URL (unicast, RTSP transport) of a profile.
func (d *Device) StreamURI(ctx context.Context, profile string) (string, error) {
	req := getStreamURI{NS: NSMedia, NSSchema: NSSchema, ProfileToken: profile}
	req.StreamSetup.Stream = "RTP-Unicast"
	req.StreamSetup.Transport.Protocol = "RTSP"
	return d.mediaURI(ctx, "get stream uri", req)
}

// SnapshotURI is the JPEG snapshot URL of a profile.
func (d *Device) SnapshotURI(ctx context.Context, profile string) (string, error) {
	return d.mediaURI(ctx, "get snapshot uri", getSnapshotURI{NS: NSMedia, ProfileToken: profile})
}

func (d *Device) mediaURI(ctx context.Context, what string, req any) (string, error) {
	if d.Services.Media == "" {
		return "", errNoMedia
	}
	var resp mediaURIResponse
	if err := d.Call(ctx, d.Services.Media, req, &resp); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	uri := strings.TrimSpace(resp.MediaURI.URI)
	if uri == "" {
		return "", fmt.Errorf("%s: device returned no URI", what)
	}
	return uri, nil
}
