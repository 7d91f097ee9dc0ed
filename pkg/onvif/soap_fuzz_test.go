package onvif

import (
	"strings"
	"testing"
)

const seedProfiles = `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><s:Body><trt:GetProfilesResponse><trt:Profiles token="p1"><tt:Name>main</tt:Name><tt:VideoEncoderConfiguration><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles></trt:GetProfilesResponse></s:Body></s:Envelope>`

// FuzzDecodeResponse feeds arbitrary bytes to the SOAP response decoder
// with every response shape the package parses: errors are fine, panics
// are not.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(seedProfiles), 200)
	f.Add([]byte(`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code></env:Fault></env:Body></env:Envelope>`), 400)
	f.Add([]byte(`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><Fault><faultcode>x</faultcode></Fault></Body></Envelope>`), 500)
	f.Add([]byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>`+strings.Repeat("<a>", 100)), 200)
	f.Add([]byte(`<s:Envelope xmlns:s="urn:x"><s:Body><x/></s:Body></s:Envelope>`), 200)
	f.Fuzz(func(t *testing.T, data []byte, status int) {
		_ = decodeResponse(data, status, &getProfilesResponse{})
		_ = decodeResponse(data, status, &getServicesResponse{})
		_ = decodeResponse(data, status, &getCapabilitiesResponse{})
		_ = decodeResponse(data, status, &mediaURIResponse{})
		_ = decodeResponse(data, status, &getSystemDateAndTimeResponse{})
		_ = decodeResponse(data, status, &DeviceInfo{})
		_ = decodeResponse(data, status, nil)
	})
}

// FuzzParseProbeMatches feeds arbitrary datagrams to the WS-Discovery
// answer parser.
func FuzzParseProbeMatches(f *testing.F) {
	f.Add(probeMatchMessage("uuid:1", "urn:uuid:2", []string{"http://10.0.0.2/onvif/device_service"}, []string{scopeName + "cam"}), "uuid:1")
	f.Add([]byte(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><ProbeMatches><ProbeMatch><XAddrs>javascript:x</XAddrs></ProbeMatch></ProbeMatches></e:Body></e:Envelope>`), "")
	f.Fuzz(func(t *testing.T, data []byte, id string) {
		found, err := ParseProbeMatches(data, id)
		if err == nil && len(found) == 0 {
			t.Fatal("no error and nothing found")
		}
		for _, d := range found {
			if len(d.XAddrs) == 0 {
				t.Fatal("match without a usable XAddr")
			}
		}
	})
}
