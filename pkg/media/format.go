package media

import (
	"reflect"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// formatNames are the names that differ from the format's Go type name.
var formatNames = map[string]string{
	"MJPEG": "M-JPEG", "MPEG4Video": "MPEG-4 Video", "MPEG1Video": "MPEG-1/2 Video",
	"MPEG4Audio": "MPEG-4 Audio", "MPEG4AudioLATM": "MPEG-4 Audio LATM", "MPEG1Audio": "MPEG-1/2 Audio",
	"AC3": "AC-3", "MPEGTS": "MPEG-TS",
}

// FormatName names an RTSP format the way logs and the probe report it
// ("H264", "MPEG-4 Audio", ...). gortsplib's own name is deprecated, so the
// names live here: its type's name, spelled out where that is an acronym.
func FormatName(f format.Format) string {
	t := reflect.TypeOf(f)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n, ok := formatNames[t.Name()]; ok {
		return n
	}
	return t.Name()
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
