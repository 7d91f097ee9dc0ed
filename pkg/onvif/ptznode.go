package onvif

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"
)

// PTZNode is what a camera's PTZ node supports: the ranges of its axes in
// the generic spaces the moves use (nil when the node has no such space),
// how many presets it can hold and whether it has a home position.
type PTZNode struct {
	Token string
	// Pan and Tilt are the absolute position ranges, else the velocity
	// ranges; Zoom likewise.
	Pan, Tilt, Zoom *Range
	Continuous      bool // a pan/tilt or zoom velocity space
	Absolute        bool // a pan/tilt or zoom position space
	Relative        bool // a pan/tilt or zoom translation space
	MaxPresets      int
	HomeSupported   bool
}

// wireSpace is one space description: its URI and ranges.
type wireSpace struct {
	URI    string    `xml:"URI"`
	XRange wireRange `xml:"XRange"`
	YRange wireRange `xml:"YRange"`
}

type wireNode struct {
	Token  string `xml:"token,attr"`
	Spaces struct {
		AbsPanTilt  []wireSpace `xml:"AbsolutePanTiltPositionSpace"`
		AbsZoom     []wireSpace `xml:"AbsoluteZoomPositionSpace"`
		RelPanTilt  []wireSpace `xml:"RelativePanTiltTranslationSpace"`
		RelZoom     []wireSpace `xml:"RelativeZoomTranslationSpace"`
		ContPanTilt []wireSpace `xml:"ContinuousPanTiltVelocitySpace"`
		ContZoom    []wireSpace `xml:"ContinuousZoomVelocitySpace"`
	} `xml:"SupportedPTZSpaces"`
	MaxPresets    int    `xml:"MaximumNumberOfPresets"`
	HomeSupported string `xml:"HomeSupported"`
}

type getNodes struct {
	XMLName xml.Name `xml:"tptz:GetNodes"`
	NS      string   `xml:"xmlns:tptz,attr"`
}

type getNodesResponse struct {
	Nodes []wireNode `xml:"PTZNode"`
}

// maxPresetsBound caps a camera's preset count; a larger number is not a
// real camera's.
const maxPresetsBound = 10000

// Node reads the camera's PTZ node (GetNodes; the first node, which is the
// only one on nearly every camera).
func (p *PTZ) Node(ctx context.Context) (PTZNode, error) {
	var resp getNodesResponse
	if err := p.dev.Call(ctx, p.dev.Services.PTZ, getNodes{NS: NSPTZ}, &resp); err != nil {
		return PTZNode{}, fmt.Errorf("ptz get nodes: %w", err)
	}
	if len(resp.Nodes) == 0 {
		return PTZNode{}, fmt.Errorf("ptz get nodes: camera lists no PTZ node")
	}
	return resp.Nodes[0].node(), nil
}

func (n wireNode) node() PTZNode {
	s := n.Spaces
	out := PTZNode{Token: strings.TrimSpace(n.Token),
		Continuous: len(s.ContPanTilt)+len(s.ContZoom) > 0,
		Absolute:   len(s.AbsPanTilt)+len(s.AbsZoom) > 0,
		Relative:   len(s.RelPanTilt)+len(s.RelZoom) > 0,
		MaxPresets: min(max(n.MaxPresets, 0), maxPresetsBound),
	}
	if pt := pick(s.AbsPanTilt, s.ContPanTilt); pt != nil {
		out.Pan, out.Tilt = pt.XRange.span(nil), pt.YRange.span(nil)
	}
	if z := pick(s.AbsZoom, s.ContZoom); z != nil {
		out.Zoom = z.XRange.span(nil)
	}
	switch strings.ToLower(strings.TrimSpace(n.HomeSupported)) {
	case "true", "1":
		out.HomeSupported = true
	}
	return out
}

// pick is the generic space of the first list that has one, else the first
// space of the first list that has any: moves are sent in generic spaces,
// so their ranges are the ones that apply.
func pick(lists ...[]wireSpace) *wireSpace {
	for _, l := range lists {
		for i := range l {
			if strings.Contains(l[i].URI, "GenericSpace") {
				return &l[i]
			}
		}
	}
	for _, l := range lists {
		if len(l) > 0 {
			return &l[0]
		}
	}
	return nil
}
