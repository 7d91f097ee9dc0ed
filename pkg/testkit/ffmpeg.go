package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SampleSpec describes a synthetic camera clip made by ffmpeg.
type SampleSpec struct {
	Size     string // "1920x1080"
	FPS      int
	GOP      int    // frames between keyframes
	Bitrate  string // "4M"
	Codec    string // "h264" or "h265"
	AAC      bool   // add an AAC (sine) track
	Seconds  int
	Filename string // optional: cache key override
}

func (s SampleSpec) withDefaults() SampleSpec {
	if s.Size == "" {
		s.Size = "640x360"
	}
	if s.FPS == 0 {
		s.FPS = 25
	}
	if s.GOP == 0 {
		s.GOP = 2 * s.FPS
	}
	if s.Bitrate == "" {
		s.Bitrate = "1M"
	}
	if s.Codec == "" {
		s.Codec = "h264"
	}
	if s.Seconds == 0 {
		s.Seconds = 10
	}
	return s
}

// FFmpegArgs returns the ffmpeg arguments that write the sample to out as
// MPEG-TS: a moving test pattern, constant GOP, no B-frames.
func (s SampleSpec) FFmpegArgs(out string) []string {
	s = s.withDefaults()
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", s.Size, s.FPS)}
	if s.AAC {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000")
	}
	args = append(args, "-t", strconv.Itoa(s.Seconds), "-pix_fmt", "yuv420p")
	gop := strconv.Itoa(s.GOP)
	if s.Codec == "h265" {
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast",
			"-x265-params", "keyint="+gop+":min-keyint="+gop+":scenecut=0:bframes=0:repeat-headers=1:log-level=error")
	} else {
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-g", gop, "-keyint_min", gop,
			"-sc_threshold", "0", "-bf", "0")
	}
	args = append(args, "-b:v", s.Bitrate, "-maxrate", s.Bitrate, "-bufsize", s.Bitrate)
	if s.AAC {
		args = append(args, "-c:a", "aac", "-b:a", "64k", "-ac", "1")
	}
	return append(args, "-f", "mpegts", out)
}

var sampleMu sync.Mutex

// Sample returns the path of an MPEG-TS clip made by ffmpeg for spec. Clips
// are cached by their ffmpeg arguments in the user cache directory, so a
// test binary (and the next run) makes each one once.
func Sample(t testing.TB, spec SampleSpec) string {
	t.Helper()
	ff := Need(t, "ffmpeg")
	spec = spec.withDefaults()
	sampleMu.Lock()
	defer sampleMu.Unlock()
	key := sha256.Sum256([]byte(strings.Join(spec.FFmpegArgs(""), "\x00")))
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	dir = filepath.Join(dir, "lightnvr-testkit")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("sample cache: %v", err)
	}
	out := filepath.Join(dir, "sample-"+hex.EncodeToString(key[:8])+".ts")
	if st, err := os.Stat(out); err == nil && st.Size() > 0 {
		return out
	}
	tmp := out + ".tmp" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(ff, spec.FFmpegArgs(tmp)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		t.Fatalf("ffmpeg sample: %v\n%s", err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatalf("sample cache: %v", err)
	}
	return out
}

// Probe is what ffprobe reports about a media file.
type Probe struct {
	Format struct {
		Duration string `json:"duration"`
		Size     string `json:"size"`
	} `json:"format"`
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
		// Audio: ffprobe prints the sample rate as a string.
		SampleRate string `json:"sample_rate"`
		Channels   int    `json:"channels"`
		Duration   string `json:"duration"`
		NbFrames   string `json:"nb_frames"`
		StartTime  string `json:"start_time"`
	} `json:"streams"`
	// Errors is what `ffprobe -v error` printed; a valid file prints nothing.
	Errors string `json:"-"`
}

// Duration returns the container duration in seconds.
func (p *Probe) Duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

// FFprobe runs ffprobe on path with -v error and returns its report,
// including whatever it printed on stderr.
func FFprobe(t testing.TB, path string) *Probe {
	t.Helper()
	fp := Need(t, "ffprobe")
	cmd := exec.Command(fp, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, stderr.String())
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	p.Errors = stderr.String()
	return &p
}

// DecodeErrors decodes every frame of path with ffmpeg and returns what it
// printed at level error: empty for a file that plays to its end.
func DecodeErrors(t testing.TB, path string) string {
	t.Helper()
	ff := Need(t, "ffmpeg")
	cmd := exec.Command(ff, "-hide_banner", "-v", "error", "-i", path, "-f", "null", "-")
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("ffmpeg decode %s: %v\n%s", path, err, b)
	}
	return string(b)
}

// VideoPackets counts the packets (frames) of the first video stream of
// path as ffprobe reads them from the file itself, not from any index.
func VideoPackets(t testing.TB, path string) int {
	t.Helper()
	fp := Need(t, "ffprobe")
	cmd := exec.Command(fp, "-v", "error", "-select_streams", "v:0", "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, stderr.String())
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe %s: packet count %q: %v", path, out, err)
	}
	return n
}
