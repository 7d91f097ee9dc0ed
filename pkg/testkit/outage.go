package testkit

import (
	"fmt"
	"testing"
	"time"
)

// cameraYAML is the camera's go2rtc config: the test pattern, kept encoding.
func cameraYAML() string {
	return fmt.Sprintf("streams:\n  pattern: %q\npreload:\n  pattern: \"video\"\n", TestPatternSource("320x240", 10))
}

// Drop takes the camera off the network for d (its process dies, so every
// RTSP session to it ends at once) and brings it back on the same ports,
// with the same picture parameters.
func (c *Camera) Drop(t testing.TB, d time.Duration) {
	t.Helper()
	c.Kill()
	time.Sleep(d)
	c.Go2RTC = StartGo2RTCOn(t, c.APIPort, c.RTSPPort, cameraYAML())
}
