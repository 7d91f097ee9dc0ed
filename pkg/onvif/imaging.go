package onvif

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strings"
)

// errNoImaging is returned when the device lists no imaging service.
var errNoImaging = errors.New("onvif: device has no imaging service")

// ModeLevel is a mode with a strength, as backlight compensation and wide
// dynamic range have.
type ModeLevel struct {
	Mode  string   `xml:"tt:Mode" json:"mode"`
	Level *float64 `xml:"tt:Level,omitempty" json:"level,omitempty"`
}

// ImagingSettings are a video source's picture settings; nil fields are
// unknown (read) or left alone (write).
type ImagingSettings struct {
	Backlight       *ModeLevel `xml:"tt:BacklightCompensation,omitempty" json:"backlight_compensation,omitempty"`
	Brightness      *float64   `xml:"tt:Brightness,omitempty" json:"brightness,omitempty"`
	ColorSaturation *float64   `xml:"tt:ColorSaturation,omitempty" json:"color_saturation,omitempty"`
	Contrast        *float64   `xml:"tt:Contrast,omitempty" json:"contrast,omitempty"`
	IrCutFilter     *string    `xml:"tt:IrCutFilter,omitempty" json:"ir_cut_filter,omitempty"`
	Sharpness       *float64   `xml:"tt:Sharpness,omitempty" json:"sharpness,omitempty"`
	WDR             *ModeLevel `xml:"tt:WideDynamicRange,omitempty" json:"wide_dynamic_range,omitempty"`
}

// imagingRead is ImagingSettings as a device answers, by local name.
type imagingRead struct {
	Backlight *struct {
		Mode  string   `xml:"Mode"`
		Level *float64 `xml:"Level"`
	} `xml:"BacklightCompensation"`
	Brightness      *float64 `xml:"Brightness"`
	ColorSaturation *float64 `xml:"ColorSaturation"`
	Contrast        *float64 `xml:"Contrast"`
	IrCutFilter     *string  `xml:"IrCutFilter"`
	Sharpness       *float64 `xml:"Sharpness"`
	WDR             *struct {
		Mode  string   `xml:"Mode"`
		Level *float64 `xml:"Level"`
	} `xml:"WideDynamicRange"`
}

type imagingRequest struct {
	XMLName xml.Name
	Attr    []xml.Attr `xml:",any,attr"`
	// Source is the video source token.
	Source   string           `xml:"timg:VideoSourceToken"`
	Settings *ImagingSettings `xml:"timg:ImagingSettings,omitempty"`
	Persist  *bool            `xml:"timg:ForcePersistence,omitempty"`
}

func (d *Device) imaging(ctx context.Context, action, source string, fill func(*imagingRequest), resp any) error {
	if d.Services.Imaging == "" {
		return errNoImaging
	}
	req := imagingRequest{XMLName: xml.Name{Local: "timg:" + action}, Attr: declare("timg", NSImaging), Source: source}
	if fill != nil {
		fill(&req)
	}
	if err := d.Call(ctx, d.Services.Imaging, req, resp); err != nil {
		return fmt.Errorf("imaging %s: %w", strings.ToLower(action), err)
	}
	return nil
}

// Imaging reads the settings of video source source.
func (d *Device) Imaging(ctx context.Context, source string) (ImagingSettings, error) {
	var resp struct {
		S imagingRead `xml:"ImagingSettings"`
	}
	if err := d.imaging(ctx, "GetImagingSettings", source, nil, &resp); err != nil {
		return ImagingSettings{}, err
	}
	r := resp.S
	out := ImagingSettings{Brightness: r.Brightness, ColorSaturation: r.ColorSaturation, Contrast: r.Contrast,
		IrCutFilter: r.IrCutFilter, Sharpness: r.Sharpness}
	if r.Backlight != nil {
		out.Backlight = &ModeLevel{Mode: strings.TrimSpace(r.Backlight.Mode), Level: r.Backlight.Level}
	}
	if r.WDR != nil {
		out.WDR = &ModeLevel{Mode: strings.TrimSpace(r.WDR.Mode), Level: r.WDR.Level}
	}
	if out.IrCutFilter != nil {
		v := strings.TrimSpace(*out.IrCutFilter)
		out.IrCutFilter = &v
	}
	return out, nil
}

// SetImaging writes the fields set in s; persist asks the camera to keep
// them over a reboot.
func (d *Device) SetImaging(ctx context.Context, source string, s ImagingSettings, persist bool) error {
	return d.imaging(ctx, "SetImagingSettings", source, func(r *imagingRequest) { r.Settings, r.Persist = &s, &persist }, nil)
}

// IrCutFor is the IR cut filter mode of a day/night mode: the filter is in
// (ON) by day for true colour and out (OFF) at night for infrared.
func IrCutFor(mode string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "auto":
		return "AUTO", true
	case "day", "color", "colour":
		return "ON", true
	case "night", "bw", "black_white", "mono":
		return "OFF", true
	}
	return "", false
}

// Range is the span a camera accepts for one setting; Modes are the modes
// of a setting that has them (backlight compensation, wide dynamic range).
type Range struct {
	Min   float64  `json:"min"`
	Max   float64  `json:"max"`
	Modes []string `json:"modes,omitempty"`
}

// ImagingOptions are what a video source's settings may be set to: the
// range of each setting the camera reports, by LightNVR's setting name
// (brightness, contrast, color_saturation, sharpness, and the level of
// backlight_compensation and wide_dynamic_range with their modes), and the
// IR cut filter modes it offers.
type ImagingOptions struct {
	Ranges           map[string]Range
	IrCutFilterModes []string
}

// wireRange is an ONVIF FloatRange, by local name.
type wireRange struct {
	Min float64 `xml:"Min"`
	Max float64 `xml:"Max"`
}

// wireModeRange is a setting with modes and a level range.
type wireModeRange struct {
	Modes []string  `xml:"Mode"`
	Level wireRange `xml:"Level"`
}

type imagingOptionsResponse struct {
	O struct {
		Backlight        *wireModeRange `xml:"BacklightCompensation"`
		Brightness       *wireRange     `xml:"Brightness"`
		ColorSaturation  *wireRange     `xml:"ColorSaturation"`
		Contrast         *wireRange     `xml:"Contrast"`
		IrCutFilterModes []string       `xml:"IrCutFilterModes"`
		Sharpness        *wireRange     `xml:"Sharpness"`
		WDR              *wireModeRange `xml:"WideDynamicRange"`
	} `xml:"ImagingOptions"`
}

// ImagingOptionsOf reads the ranges and modes video source source accepts.
func (d *Device) ImagingOptionsOf(ctx context.Context, source string) (ImagingOptions, error) {
	var resp imagingOptionsResponse
	if err := d.imaging(ctx, "GetOptions", source, nil, &resp); err != nil {
		return ImagingOptions{}, err
	}
	return resp.options(), nil
}

// options turns the wire answer into ranges, dropping any whose bounds are
// reversed or not numbers a JSON answer can carry.
func (r imagingOptionsResponse) options() ImagingOptions {
	o := r.O
	out := ImagingOptions{Ranges: map[string]Range{}, IrCutFilterModes: trimmed(o.IrCutFilterModes)}
	levels := map[string]*wireRange{"brightness": o.Brightness, "color_saturation": o.ColorSaturation, "contrast": o.Contrast, "sharpness": o.Sharpness}
	modes := map[string]*wireModeRange{"backlight_compensation": o.Backlight, "wide_dynamic_range": o.WDR}
	for name, w := range levels {
		if rg := w.span(nil); rg != nil {
			out.Ranges[name] = *rg
		}
	}
	for name, w := range modes {
		if w == nil {
			continue
		}
		if rg := w.Level.span(trimmed(w.Modes)); rg != nil {
			out.Ranges[name] = *rg
		}
	}
	return out
}

// trimmed is list without blank entries, the others trimmed; never nil, so
// that JSON shows an empty list.
func trimmed(list []string) []string {
	out := []string{}
	for _, m := range list {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

func (w *wireRange) span(modes []string) *Range {
	if w == nil || !finite(w.Min) || !finite(w.Max) || w.Min > w.Max {
		return nil
	}
	return &Range{Min: w.Min, Max: w.Max, Modes: modes}
}

// finite is false for NaN and ±Inf, which encoding/xml accepts and
// encoding/json refuses.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
