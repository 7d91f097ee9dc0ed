// The appliance's go2rtc: go2rtc v1.9.14's own main with only the modules
// lightnvr uses, so that the binary fits the 16 MiB NOR layout
// (board/ingenic-a1/flash-layout-nor16m.md). go2rtc's internal/ packages can
// only be imported from inside its module, so scripts/build-go2rtc.sh and the
// Buildroot go2rtc package copy this file into go2rtc's source tree (as
// slim/main.go) and build it there. The directory name starts with '_' so
// that lightnvr's own module never compiles it.
//
// Kept, and why:
//   - api, ws, streams: the API lightnvr calls and proxies (go2rtc.APIPaths);
//   - rtsp: camera sources and the restream the recorder reads;
//   - http, rtmp, ffmpeg: the other source schemes lightnvr accepts
//     (go2rtc.AcceptedSchemes);
//   - webrtc, mp4 (MSE over api/ws, api/stream.mp4), hls, mjpeg
//     (api/frame.jpeg): the live views and snapshots;
//   - exec: test pattern sources (exec:ffmpeg ...) in the tests and docs;
//   - onvif: ONVIF sources an admin may put in the override file.
//
// Dropped: cloud and vendor sources (tapo, xiaomi, ring, nest, ...), HomeKit,
// hass, webtorrent, ngrok, pinggy, alsa, v4l2, debug. The module names keep
// go2rtc's own, so its `app: modules:` setting still works.
package main

import (
	"slices"

	"github.com/AlexxIT/go2rtc/internal/api"
	"github.com/AlexxIT/go2rtc/internal/api/ws"
	"github.com/AlexxIT/go2rtc/internal/app"
	"github.com/AlexxIT/go2rtc/internal/exec"
	"github.com/AlexxIT/go2rtc/internal/ffmpeg"
	"github.com/AlexxIT/go2rtc/internal/hls"
	"github.com/AlexxIT/go2rtc/internal/http"
	"github.com/AlexxIT/go2rtc/internal/mjpeg"
	"github.com/AlexxIT/go2rtc/internal/mp4"
	"github.com/AlexxIT/go2rtc/internal/onvif"
	"github.com/AlexxIT/go2rtc/internal/rtmp"
	"github.com/AlexxIT/go2rtc/internal/rtsp"
	"github.com/AlexxIT/go2rtc/internal/streams"
	"github.com/AlexxIT/go2rtc/internal/webrtc"
	"github.com/AlexxIT/go2rtc/pkg/shell"
)

func main() {
	// The release this main belongs to; go2rtc appends "+dev" when the build
	// information names another version.
	app.Version = "1.9.14"

	type module struct {
		name string
		init func()
	}
	// go2rtc's order: config and logs, the API before everything that
	// registers handlers on it, streams before the sources.
	modules := []module{
		{"", app.Init},
		{"api", api.Init},
		{"ws", ws.Init},
		{"", streams.Init},
		{"http", http.Init},
		{"rtsp", rtsp.Init},
		{"webrtc", webrtc.Init},
		{"mp4", mp4.Init},
		{"hls", hls.Init},
		{"mjpeg", mjpeg.Init},
		{"onvif", onvif.Init},
		{"rtmp", rtmp.Init},
		{"exec", exec.Init},
		{"ffmpeg", ffmpeg.Init},
	}
	for _, m := range modules {
		if app.Modules == nil || m.name == "" || slices.Contains(app.Modules, m.name) {
			m.init()
		}
	}
	shell.RunUntilSignal()
}
