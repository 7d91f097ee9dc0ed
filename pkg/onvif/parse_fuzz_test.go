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
		for _, r := range []*Range{o.Backlight, o.Brightness, o.ColorSaturation, o.Contrast, o.Sharpness, o.WDR} {
			if r != nil && r.Min > r.Max {
				t.Fatalf("range %+v reversed", r)
			}
		}
		if _, err := json.Marshal(o); err != nil {
			t.Fatalf("options do not encode: %v", err)
		}
	})
}
