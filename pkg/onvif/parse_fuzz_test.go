package onvif

import (
	"encoding/json"
	"testing"
)

const seedOptions = `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:timg="http://www.onvif.org/ver20/imaging/wsdl"><env:Body><timg:GetOptionsResponse><timg:ImagingOptions><tt:BacklightCompensation><tt:Mode>OFF</tt:Mode><tt:Level><tt:Min>0</tt:Min><tt:Max>10</tt:Max></tt:Level></tt:BacklightCompensation><tt:Brightness><tt:Min>0</tt:Min><tt:Max>255</tt:Max></tt:Brightness><tt:IrCutFilterModes>ON</tt:IrCutFilterModes><tt:Sharpness><tt:Min>NaN</tt:Min><tt:Max>1</tt:Max></tt:Sharpness></timg:ImagingOptions></timg:GetOptionsResponse></env:Body></env:Envelope>`

// FuzzImagingOptions: whatever GetOptions answers, the options decode to
// an error or to ranges that are ordered and JSON can carry.
func FuzzImagingOptions(f *testing.F) {
	f.Add([]byte(seedOptions))
	f.Add([]byte(`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><GetOptionsResponse><ImagingOptions><Contrast><Min>9</Min><Max>-Inf</Max></Contrast></ImagingOptions></GetOptionsResponse></env:Body></env:Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp imagingOptionsResponse
		if decodeResponse(data, 200, &resp) != nil {
			return
		}
		o := resp.options()
		for name, r := range o.Ranges {
			if r.Min > r.Max {
				t.Fatalf("%s: range %+v reversed", name, r)
			}
		}
		if _, err := json.Marshal(o); err != nil {
			t.Fatalf("options do not encode: %v", err)
		}
	})
}

const seedNodes = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl"><env:Body><tptz:GetNodesResponse><tptz:PTZNode token="n"><tt:SupportedPTZSpaces><tt:AbsolutePanTiltPositionSpace><tt:URI>http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace</tt:URI><tt:XRange><tt:Min>-1</tt:Min><tt:Max>1</tt:Max></tt:XRange><tt:YRange><tt:Min>-1</tt:Min><tt:Max>1</tt:Max></tt:YRange></tt:AbsolutePanTiltPositionSpace><tt:ContinuousZoomVelocitySpace><tt:URI>x</tt:URI><tt:XRange><tt:Min>1</tt:Min><tt:Max>0</tt:Max></tt:XRange></tt:ContinuousZoomVelocitySpace></tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>-3</tt:MaximumNumberOfPresets><tt:HomeSupported>true</tt:HomeSupported></tptz:PTZNode></tptz:GetNodesResponse></env:Body></env:Envelope>`

// FuzzPTZNodes: whatever GetNodes answers, every node decodes to ordered
// ranges and a preset count within bounds.
func FuzzPTZNodes(f *testing.F) {
	f.Add([]byte(seedNodes))
	f.Add([]byte(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><GetNodesResponse><PTZNode><MaximumNumberOfPresets>99999999999</MaximumNumberOfPresets></PTZNode></GetNodesResponse></e:Body></e:Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp getNodesResponse
		if decodeResponse(data, 200, &resp) != nil {
			return
		}
		for _, w := range resp.Nodes {
			n := w.node()
			for _, r := range []*Range{n.Pan, n.Tilt, n.Zoom} {
				if r != nil && r.Min > r.Max {
					t.Fatalf("range %+v reversed", r)
				}
			}
			if n.MaxPresets < 0 || n.MaxPresets > maxPresetsBound {
				t.Fatalf("max presets %d", n.MaxPresets)
			}
			if _, err := json.Marshal(n); err != nil {
				t.Fatalf("node does not encode: %v", err)
			}
		}
	})
}

const seedNotify = `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa="http://www.w3.org/2005/08/addressing"><env:Header><wsa:Action>http://docs.oasis-open.org/wsn/bw-2/NotificationConsumer/Notify</wsa:Action></env:Header><env:Body><wsnt:Notify><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-01-01T00:00:00Z" PropertyOperation="Changed"><tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></wsnt:Notify></env:Body></env:Envelope>`

// FuzzParseNotify: a pushed body is a Notify whose messages turn into
// events for the stream they were pushed for, or an error; never a panic.
func FuzzParseNotify(f *testing.F) {
	f.Add([]byte(seedNotify))
	f.Add([]byte(`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><Notify><NotificationMessage><Topic>x/Alarm</Topic></NotificationMessage></Notify></Body></Envelope>`))
	f.Add([]byte(`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><PullMessagesResponse/></env:Body></env:Envelope>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := parseNotify(data)
		if err != nil {
			return
		}
		for _, m := range msgs {
			if e, ok := m.event("s", 0); ok && (e.Stream != "s" || len(e.Detections) != 1) {
				t.Fatalf("event %+v", e)
			}
		}
	})
}
