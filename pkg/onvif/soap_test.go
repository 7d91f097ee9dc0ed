package onvif

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func serve(status int, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
}

func TestCallFaultBecomesError(t *testing.T) {
	srv := serve(400, `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`)
	defer srv.Close()
	err := NewClient("u", "p").Call(context.Background(), srv.URL, getSystemHostname{NS: NSDevice}, nil)
	var f *Fault
	if !errors.As(err, &f) || f.Subcode != "ter:NotAuthorized" || f.Reason != "Sender not Authorized" {
		t.Fatalf("err = %v", err)
	}
	if !IsAuthFault(err) {
		t.Fatal("NotAuthorized is not an auth fault")
	}
}

func TestCallRejectsHostileBodies(t *testing.T) {
	cases := map[string]string{
		"huge":      `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>` + strings.Repeat("A", MaxResponseBytes+10) + `</env:Body></env:Envelope>`,
		"deep":      `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>` + strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000) + `</env:Body></env:Envelope>`,
		"namespace": `<Envelope xmlns="urn:not-soap"><Body><x/></Body></Envelope>`,
		"truncated": `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><x>`,
		"empty":     `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body></env:Body></env:Envelope>`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			srv := serve(200, body)
			defer srv.Close()
			var out struct{ X string }
			if err := NewClient("", "").Call(context.Background(), srv.URL, getSystemHostname{NS: NSDevice}, &out); err == nil {
				t.Fatal("hostile body accepted")
			}
		})
	}
}
