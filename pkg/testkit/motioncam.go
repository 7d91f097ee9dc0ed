package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MotionScene is the picture of a motion camera: a grey 640×360 background
// at 25 fps, still except for a white 60×60 box that crosses it at 90 px/s
// from From to To seconds after the camera starts encoding, with a 440 Hz
// AAC tone on the same stream.
type MotionScene struct {
	From, To float64 // seconds; To <= From: nothing moves
	// Noise is the strength of fresh sensor noise on every frame (ffmpeg
	// noise=alls), 0 for a noise-free picture.
	Noise int
}

// MotionFPS is the frame rate of a motion camera.
const MotionFPS = 25

// graph is the lavfi graph of the scene: [out0] video, [out1] audio.
func (s MotionScene) graph() string {
	bg := fmt.Sprintf("color=c=gray:s=640x360:r=%d", MotionFPS)
	if s.Noise > 0 {
		bg += fmt.Sprintf(",noise=alls=%d:allf=t", s.Noise)
	}
	v := bg + "[out0]"
	if s.To > s.From {
		v = fmt.Sprintf("%s[bg];color=c=white:s=60x60:r=%d[box];"+
			"[bg][box]overlay=x='t*90-%g':y=150:enable='between(t,%g,%g)'[out0]",
			bg, MotionFPS, s.From*90, s.From, s.To)
	}
	return v + ";sine=frequency=440:sample_rate=16000[out1]"
}

// MotionCamera is an RTSP camera (a go2rtc of its own) showing a
// MotionScene as H.264 at constant quality, so that a still picture codes
// to tiny P-frames, with a keyframe every 2 s. It is not kept encoding: the
// scene's clock starts when the first reader connects, so the first frame
// a reader gets is the scene's time 0.
type MotionCamera struct {
	*Go2RTC
}

// StartMotionCamera starts a camera serving scene as the stream "motion".
func StartMotionCamera(t testing.TB, scene MotionScene) *MotionCamera {
	t.Helper()
	return &MotionCamera{Go2RTC: StartGo2RTC(t, motionYAML(t, scene))}
}

// motionYAML is the camera's go2rtc config for scene.
func motionYAML(t testing.TB, scene MotionScene) string {
	t.Helper()
	graph := filepath.Join(t.TempDir(), "scene.lavfi")
	if err := os.WriteFile(graph, []byte(scene.graph()), 0o600); err != nil {
		t.Fatalf("motion camera: %v", err)
	}
	src := strings.Join([]string{"exec:ffmpeg -hide_banner -loglevel error -re -f lavfi -graph_file", graph,
		"-i scene -map 0:v -map 0:a -c:v libx264 -preset ultrafast -tune zerolatency -crf 23 -g 50 -keyint_min 50",
		"-sc_threshold 0 -bf 0 -pix_fmt yuv420p -c:a aac -b:a 32k -f rtsp {output}"}, " ")
	return fmt.Sprintf("streams:\n  motion: %q\n", src)
}

// URL is the camera's RTSP URL.
func (c *MotionCamera) URL() string {
	return fmt.Sprintf("rtsp://127.0.0.1:%d/motion", c.RTSPPort)
}

// Restart kills the camera, keeps it away for d and starts it again on the
// same port showing scene from its time 0, as a camera that reboots (into
// other settings when scene differs).
func (c *MotionCamera) Restart(t testing.TB, d time.Duration, scene MotionScene) {
	t.Helper()
	c.Kill()
	time.Sleep(d)
	c.Go2RTC = StartGo2RTCOn(t, c.APIPort, c.RTSPPort, motionYAML(t, scene))
}
