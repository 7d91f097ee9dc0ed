// Package onviftest stands in, in tests, for the WS-Discovery responder of
// devices that have none (go2rtc's ONVIF server).
package onviftest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"

	"lightnvr/pkg/onvif"
)

// AnswerProbes listens on UDP port 3702 of a loopback address of its own
// and answers every probe with a ProbeMatch of endpoint pointing at xaddr,
// with scopes, until the test ends. It returns the address: a scan of its
// /32 finds the device.
func AnswerProbes(t testing.TB, endpoint, xaddr string, scopes ...string) string {
	t.Helper()
	for range 20 {
		ip := fmt.Sprintf("127.0.%d.%d", rand.IntN(250)+1, rand.IntN(250)+2)
		conn, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "3702"))
		if err != nil {
			continue // taken: try another address
		}
		done := make(chan error, 1)
		go func() { done <- onvif.ServeProbes(conn, endpoint, []string{xaddr}, scopes) }()
		t.Cleanup(func() {
			conn.Close()
			if err := <-done; err != nil {
				t.Errorf("probe responder: %v", err)
			}
		})
		return ip
	}
	t.Fatal("no free loopback address for port 3702")
	return ""
}
