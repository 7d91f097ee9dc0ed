package onvif

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// startResponder answers probes on conn for one device, as a camera does.
func startResponder(t *testing.T, conn net.PacketConn, xaddr string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- ServeProbes(conn, "urn:uuid:11111111-2222-4333-8444-555555555555", []string{xaddr},
			[]string{"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/name/Front%20Door", "onvif://www.onvif.org/hardware/IPC-1"})
	}()
	t.Cleanup(func() {
		conn.Close()
		if err := <-done; err != nil {
			t.Errorf("responder: %v", err)
		}
	})
}

func checkFound(t *testing.T, found []Found, xaddr string) {
	t.Helper()
	if len(found) != 1 {
		t.Fatalf("found %d devices: %+v", len(found), found)
	}
	f := found[0]
	if len(f.XAddrs) != 1 || f.XAddrs[0] != xaddr || f.Name != "Front Door" || f.Hardware != "IPC-1" ||
		f.Endpoint != "urn:uuid:11111111-2222-4333-8444-555555555555" || !f.From.IsValid() {
		t.Fatalf("found %+v", f)
	}
}

func TestRangeProbeFindsResponder(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const xaddr = "http://127.0.0.1:8080/onvif/device_service"
	startResponder(t, conn, xaddr)
	p := Prober{Port: conn.LocalAddr().(*net.UDPAddr).Port, Timeout: 500 * time.Millisecond}
	found, err := p.Range(context.Background(), netip.MustParsePrefix("127.0.0.1/32"))
	if err != nil {
		t.Fatal(err)
	}
	checkFound(t, found, xaddr)
}

func TestRangeRefusesHugeOrIPv6(t *testing.T) {
	for _, r := range []string{"10.0.0.0/8", "fd00::/120"} {
		if _, err := (Prober{}).Range(context.Background(), netip.MustParsePrefix(r)); err == nil {
			t.Errorf("range %s accepted", r)
		}
	}
}

// The multicast probe reaches a responder that joined the ONVIF group on a
// real interface (the probe loops back to the sending host).
func TestMulticastProbeFindsResponder(t *testing.T) {
	ifc := firstMulticastInterface(t)
	port := freeUDPPort(t)
	conn, err := net.ListenMulticastUDP("udp4", ifc, &net.UDPAddr{IP: net.ParseIP(discoveryGroup), Port: port})
	if err != nil {
		t.Skipf("cannot join the group on %s: %v", ifc.Name, err)
	}
	const xaddr = "http://192.0.2.50/onvif/device_service"
	startResponder(t, conn, xaddr)
	found, err := Prober{Port: port, Timeout: 700 * time.Millisecond}.Multicast(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkFound(t, found, xaddr)
}

func firstMulticastInterface(t *testing.T) *net.Interface {
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if _, ok := multicastSource(ifc); ok && ifc.Flags&net.FlagLoopback == 0 {
			return &ifc
		}
	}
	t.Skip("no multicast-capable interface")
	return nil
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
