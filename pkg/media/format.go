package media

import (
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// FormatName names an RTSP format the way logs and the probe report it
// ("H264", "MPEG-4 Audio", ...). gortsplib's own name is deprecated, so the
// names live here; an unknown format is named by its SDP encoding.
func FormatName(f format.Format) string {
	switch f.(type) {
	case *format.H264:
		return "H264"
	case *format.H265:
		return "H265"
	case *format.MJPEG:
		return "M-JPEG"
	case *format.MPEG4Video:
		return "MPEG-4 Video"
	case *format.MPEG1Video:
		return "MPEG-1/2 Video"
	case *format.MPEG4Audio:
		return "MPEG-4 Audio"
	case *format.MPEG4AudioLATM:
		return "MPEG-4 Audio LATM"
	case *format.MPEG1Audio:
		return "MPEG-1/2 Audio"
	case *format.AC3:
		return "AC-3"
	case *format.G711:
		return "G711"
	case *format.LPCM:
		return "LPCM"
	}
	name, _, _ := strings.Cut(f.RTPMap(), "/")
	if name == "" {
		return "Generic"
	}
	return name
}

// AACChannels is the channel count an AudioSpecificConfig declares, 0 when
// a program config element in the stream defines it instead.
func AACChannels(c *mpeg4audio.AudioSpecificConfig) int {
	if c.ChannelConfig == 7 {
		return 8
	}
	if c.ChannelConfig <= 6 {
		return int(c.ChannelConfig)
	}
	return 0
}
