package go2rtc

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"lightnvr/pkg/host"
	"os"
	"path/filepath"
	"strings"
)

// CredentialsFile, inside Settings.ConfigDir, locks go2rtc's API and RTSP server
// down: a user and password for both, authentication for loopback callers too
// (api.local_auth) and the API paths lightnvr uses (api.allow_paths). go2rtc
// loads it as its last -config, so no other file can loosen it. In managed mode
// lightnvr writes it; on the appliance (external mode) the go2rtc init script
// does, at every go2rtc start, and lightnvr reads it. Mode 0600.
const CredentialsFile = "credentials.yaml"

// CredentialsUser is the account name lightnvr uses towards go2rtc; only the
// password is secret.
const CredentialsUser = "lightnvr"

// APIPaths are the go2rtc API endpoints lightnvr calls (client, proxy and diag),
// relative to base_path. go2rtc registers no other handler when allow_paths is
// set, so config, exec, restart and the rest do not exist even for a local
// process that learned the password.
var APIPaths = []string{"api", "api/streams", "api/frame.jpeg", "api/stream.mp4", "api/webrtc", "api/ws",
	"api/stream.m3u8", "api/hls/playlist.m3u8", "api/hls/segment.ts", "api/hls/init.mp4", "api/hls/segment.m4s"}

// Credentials authenticate lightnvr to go2rtc (HTTP basic auth on the API,
// RTSP auth on the restream).
type Credentials struct {
	Username string
	Password string
}

// IsZero reports whether there are no credentials (go2rtc runs without auth).
func (c Credentials) IsZero() bool { return c.Username == "" && c.Password == "" }

// Authorization is the header value go2rtc's API expects; "" without
// credentials.
func (c Credentials) Authorization() string {
	if c.IsZero() {
		return ""
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password))
}

// GenerateCredentials makes a fresh random password (128 bits).
func GenerateCredentials() (Credentials, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return Credentials{}, fmt.Errorf("generate go2rtc credentials: %w", err)
	}
	return Credentials{Username: CredentialsUser, Password: hex.EncodeToString(b)}, nil
}

// RenderCredentials returns the credentials file for go2rtc.
func RenderCredentials(s Settings, c Credentials) []byte {
	var b strings.Builder
	b.WriteString("# go2rtc access for lightnvr only; rewritten at every go2rtc start. Keep it 0600.\n")
	b.WriteString("api:\n")
	fmt.Fprintf(&b, "  username: %s\n  password: %s\n", q(c.Username), q(c.Password))
	// Without local_auth go2rtc lets every loopback caller in unauthenticated.
	b.WriteString("  local_auth: true\n")
	b.WriteString("  allow_paths:\n")
	for _, p := range APIPaths {
		fmt.Fprintf(&b, "    - %s\n", q(s.basePath()+"/"+p))
	}
	b.WriteString("rtsp:\n")
	fmt.Fprintf(&b, "  username: %s\n  password: %s\n", q(c.Username), q(c.Password))
	return []byte(b.String())
}

// WriteCredentials writes dir/CredentialsFile (0600) and returns its path.
func WriteCredentials(s Settings, c Credentials) (string, error) {
	path := filepath.Join(s.ConfigDir, CredentialsFile)
	if err := host.WriteFile(path, RenderCredentials(s, c), 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// LoadCredentials reads the api user and password from dir/CredentialsFile.
// A missing file is not an error: it means go2rtc runs without credentials.
// Only the simple shape RenderCredentials and the init script write is
// understood: "key: value" lines under a top-level "api:".
func LoadCredentials(dir string) (Credentials, error) {
	var c Credentials
	if dir == "" {
		return c, nil
	}
	path := filepath.Join(dir, CredentialsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read go2rtc credentials: %w", err)
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			section = strings.TrimSuffix(trimmed, ":")
			continue
		}
		if section != "api" {
			continue
		}
		key, val, ok := strings.Cut(trimmed, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "username":
			c.Username = unquote(val)
		case "password":
			c.Password = unquote(val)
		}
	}
	if c.IsZero() {
		return c, fmt.Errorf("go2rtc credentials %s: no api username/password", path)
	}
	return c, nil
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		var s string
		if json.Unmarshal([]byte(v), &s) == nil {
			return s
		}
	}
	return strings.Trim(v, `'"`)
}
