package logx

import "log/slog"

// LevelFromLightNVR maps LightNVR's numeric [general] log_level
// (0=ERROR 1=WARN 2=INFO 3=DEBUG) to a slog level. Values outside the range
// are clamped, so a config typo cannot silence errors.
func LevelFromLightNVR(n int) slog.Level {
	switch {
	case n <= 0:
		return slog.LevelError
	case n == 1:
		return slog.LevelWarn
	case n == 2:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// LightNVRLevel is the inverse of LevelFromLightNVR, for writing the level
// back to the config or reporting it through the settings API.
func LightNVRLevel(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 0
	case l >= slog.LevelWarn:
		return 1
	case l >= slog.LevelInfo:
		return 2
	default:
		return 3
	}
}
