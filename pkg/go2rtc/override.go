package go2rtc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lightnvr/pkg/host"
	"lightnvr/pkg/logx"
)

// The override file is the machine admin's: a stream it defines is theirs,
// with whatever source they need (an exec: pipeline, #raw arguments), which
// the API never accepts. lightnvr neither registers a stream of that name nor
// deletes one: go2rtc keeps the override's definition, and a database stream
// of the same name records what that pipeline delivers.

// OverrideStreams returns the names of the streams ConfigDir/override.yaml
// defines; none when there is no such file.
func (s Settings) OverrideStreams() (map[string]bool, error) {
	if s.ConfigDir == "" {
		return nil, nil
	}
	path := filepath.Join(s.ConfigDir, OverrideFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read go2rtc override %s: %w", path, err)
	}
	names := map[string]bool{}
	for _, n := range OverrideStreamNames(data) {
		names[n] = true
	}
	return names, nil
}

// OverrideStreamNames lists the keys of the top-level `streams:` map of a
// go2rtc YAML file. It reads the block style go2rtc's own files use (one key
// a line, indented under `streams:`), and the flow style `streams: {a: …}` is
// not read: a name it misses is only managed by lightnvr as usual.
func OverrideStreamNames(yaml []byte) []string {
	var names []string
	in := false
	indent := -1
	sc := bufio.NewScanner(bytes.NewReader(yaml))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		body := strings.TrimLeft(line, " ")
		if body == "" || strings.HasPrefix(body, "#") {
			continue
		}
		depth := len(line) - len(body)
		if depth == 0 {
			in = strings.HasPrefix(body, "streams:")
			indent = -1
			continue
		}
		if !in {
			continue
		}
		if indent < 0 {
			indent = depth
		}
		if depth != indent || strings.HasPrefix(body, "- ") {
			continue
		}
		if name, ok := yamlKey(body); ok {
			names = append(names, name)
		}
	}
	return names
}

// yamlKey returns the key of a `key: value` or `key:` line, unquoted.
func yamlKey(s string) (string, bool) {
	if q := s[0]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[1:], q)
		if end < 0 || !strings.HasPrefix(s[end+2:], ":") {
			return "", false
		}
		return s[1 : end+1], true
	}
	i := strings.Index(s, ":")
	if i <= 0 || (i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\t') {
		return "", false
	}
	return strings.TrimSpace(s[:i]), true
}

// The override file (OverrideFile) may also be set over the API (the
// go2rtc_config_override setting). A text go2rtc refuses (it logs a YAML
// error for it, or does not come up with it) is quarantined: moved to
// QuarantineFile with the reason in QuarantineReasonFile, and go2rtc is
// started again on the override it ran with before (LastGoodFile), or none.
const (
	QuarantineFile       = "override.quarantined.yaml"
	QuarantineReasonFile = "override.quarantined.reason"
	LastGoodFile         = "override.last-good.yaml"
)

// ErrExternal: go2rtc's files belong to the init script that runs it.
var ErrExternal = errors.New("go2rtc runs in external mode: its configuration belongs to the script that starts it")

// OverrideStatus describes the override file and its quarantine.
type OverrideStatus struct {
	ExpectedFilePath     string `json:"expected_file_path"`
	FilePresent          bool   `json:"file_present"`
	FileBytes            int    `json:"file_bytes"`
	FileReadError        string `json:"file_read_error"`
	QuarantineActive     bool   `json:"quarantine_active"`
	QuarantineReason     string `json:"quarantine_reason"`
	QuarantinedCopyBytes int    `json:"quarantined_copy_bytes"`
	ProcessRunning       bool   `json:"process_running"`
	ProcessPID           int    `json:"process_pid"`
}

func (s *Supervisor) path(name string) string {
	return filepath.Join(s.Settings().ConfigDir, name)
}

// Override returns the text of the override file; "" when there is none.
func (s *Supervisor) Override() (string, error) {
	b, err := os.ReadFile(s.path(OverrideFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read go2rtc override: %w", err)
	}
	return string(b), nil
}

// SetOverride checks text, makes it go2rtc's override file ("" removes it),
// ends a quarantine and restarts go2rtc with it. The override go2rtc ran with
// until now is kept as the last good one, to go back to should go2rtc refuse
// the new text.
func (s *Supervisor) SetOverride(text string) error {
	if s.Settings().mode() == ModeExternal {
		return ErrExternal
	}
	if c := CheckOverride(text); !c.Valid {
		return fmt.Errorf("go2rtc override: %s", c.Error)
	}
	s.overrideMu.Lock()
	defer s.overrideMu.Unlock()
	cur, err := os.ReadFile(s.path(OverrideFile))
	switch {
	case err == nil && !s.quarantined():
		if err := host.WriteFile(s.path(LastGoodFile), cur, 0o600); err != nil {
			return err
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read go2rtc override: %w", err)
	}
	if err := s.endQuarantine(); err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		if err := os.Remove(s.path(OverrideFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove go2rtc override: %w", err)
		}
	} else if err := host.WriteFile(s.path(OverrideFile), []byte(text), 0o600); err != nil {
		return err
	}
	s.Restart()
	return nil
}

// quarantined reports whether a refused override is in quarantine.
func (s *Supervisor) quarantined() bool {
	_, err := os.Stat(s.path(QuarantineReasonFile))
	return err == nil
}

func (s *Supervisor) endQuarantine() error {
	for _, f := range []string{QuarantineFile, QuarantineReasonFile} {
		if err := os.Remove(s.path(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("end go2rtc override quarantine: %w", err)
		}
	}
	return nil
}

// quarantine moves the override go2rtc refused aside with the reason and
// puts the last good one back (or none). It reports whether there was an
// override to blame.
func (s *Supervisor) quarantine(reason string) bool {
	s.overrideMu.Lock()
	defer s.overrideMu.Unlock()
	over := s.path(OverrideFile)
	if _, err := os.Stat(over); err != nil {
		return false
	}
	if err := os.Rename(over, s.path(QuarantineFile)); err != nil {
		s.log.Error("quarantine go2rtc override", "err", err)
		return false
	}
	reason = logx.RedactURL(reason)
	_ = host.WriteFile(s.path(QuarantineReasonFile), []byte(time.Now().UTC().Format(time.RFC3339)+" "+reason), 0o600)
	if err := os.Rename(s.path(LastGoodFile), over); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("restore the last good go2rtc override", "err", err)
	}
	s.log.Warn("go2rtc refused the override; quarantined it and restarting on the last good configuration",
		"file", s.path(QuarantineFile), "reason", reason)
	return true
}

// OverrideStatus reports the override file, its quarantine and the process.
func (s *Supervisor) OverrideStatus() OverrideStatus {
	st := OverrideStatus{ExpectedFilePath: s.path(OverrideFile)}
	b, err := os.ReadFile(st.ExpectedFilePath)
	switch {
	case err == nil:
		st.FilePresent, st.FileBytes = true, len(b)
	case !errors.Is(err, fs.ErrNotExist):
		st.FileReadError = err.Error()
	}
	if r, err := os.ReadFile(s.path(QuarantineReasonFile)); err == nil {
		st.QuarantineActive, st.QuarantineReason = true, strings.TrimSpace(string(r))
	}
	if q, err := os.ReadFile(s.path(QuarantineFile)); err == nil {
		st.QuarantinedCopyBytes = len(q)
	}
	ps := s.Status()
	st.ProcessRunning, st.ProcessPID = ps.Ready(), ps.PID
	return st
}

// EffectiveConfig is what go2rtc loads, in order, with secrets masked.
type EffectiveConfig struct {
	// Initialized: go2rtc came up at least once.
	Initialized        bool `json:"go2rtc_initialized"`
	RedactionAvailable bool `json:"redaction_available"`
	ConfigFiles
	Warnings []string `json:"warnings"`
}

// ConfigFiles are go2rtc.yaml (Base) and the override file, and the -config
// files in the order go2rtc loads them.
type ConfigFiles struct {
	Base              string   `json:"base"`
	Override          string   `json:"override"`
	MergedSourceOrder []string `json:"merged_source_order"`
	OverrideInUse     bool     `json:"override_in_use"`
}

// EffectiveConfig reads go2rtc.yaml and the override file as go2rtc loads
// them. The credentials file is named in the order but never read out.
func (s *Supervisor) EffectiveConfig() EffectiveConfig {
	ec := EffectiveConfig{Initialized: s.Status().Generation > 0, RedactionAvailable: true, Warnings: []string{}}
	if b, err := os.ReadFile(s.path(ConfigFile)); err == nil {
		ec.Base = MaskSecrets(string(b))
		ec.MergedSourceOrder = append(ec.MergedSourceOrder, s.path(ConfigFile))
	} else {
		ec.Warnings = append(ec.Warnings, "go2rtc.yaml not readable: "+err.Error())
	}
	if text, err := s.Override(); err != nil {
		ec.Warnings = append(ec.Warnings, err.Error())
	} else if text != "" {
		ec.Override, ec.OverrideInUse = MaskSecrets(text), true
		ec.MergedSourceOrder = append(ec.MergedSourceOrder, s.path(OverrideFile))
		ec.Warnings = append(ec.Warnings, CheckOverride(text).Warnings...)
	}
	if !s.Credentials().IsZero() {
		ec.MergedSourceOrder = append(ec.MergedSourceOrder, s.path(CredentialsFile))
	}
	if s.quarantined() {
		ec.Warnings = append(ec.Warnings, "an override go2rtc refused is in quarantine: "+s.path(QuarantineFile))
	}
	return ec
}

// MaskSecrets hides what a go2rtc YAML text holds secret: the password of
// every URL and the value of every key that names a secret (password,
// credential, token, ...).
func MaskSecrets(text string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := logx.RedactURL(sc.Text())
		body := strings.TrimLeft(line, " -")
		if key, _, ok := strings.Cut(body, ":"); ok && secretKey(strings.Trim(strings.TrimSpace(key), `"'`)) {
			i := strings.Index(line, ":")
			if strings.TrimSpace(line[i+1:]) != "" {
				line = line[:i+1] + " " + logx.Masked
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// secretKey: go2rtc calls a TURN password "credential".
func secretKey(k string) bool { return k == "credential" || logx.IsSecretKey(k) }

// Restart stops a managed go2rtc and starts it again at once, reading its
// files anew; it returns without waiting. An external go2rtc is left alone.
func (s *Supervisor) Restart() {
	select {
	case s.restart <- struct{}{}:
	default: // one is pending already
	}
}

// errRestart ends a run on request, or after a refused override was
// quarantined: the next run starts at once.
var errRestart = errors.New("restart requested")
