package storage

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Level is the disk-pressure level, by percent of the disk free.
type Level int

// Pressure levels; the thresholds come from [storage] pressure_*_pct.
const (
	LevelNormal Level = iota
	LevelWarning
	LevelCritical
	LevelEmergency
)

func (l Level) String() string {
	switch l {
	case LevelNormal:
		return "normal"
	case LevelWarning:
		return "warning"
	case LevelCritical:
		return "critical"
	case LevelEmergency:
		return "emergency"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalText makes a Level read as its name in JSON.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText parses a level name.
func (l *Level) UnmarshalText(b []byte) error {
	for v := LevelNormal; v <= LevelEmergency; v++ {
		if v.String() == string(b) {
			*l = v
			return nil
		}
	}
	return fmt.Errorf("unknown pressure level %q", b)
}

// Space is what statfs says of the filesystem holding the data directory.
// Free is what an unprivileged writer may still use (f_bavail), so the
// root-reserved blocks of ext4 never count as room.
type Space struct {
	Total uint64 `json:"total_bytes"`
	Free  uint64 `json:"free_bytes"`
	Used  uint64 `json:"used_bytes"`
}

// FreePct is the free share of the filesystem, 0..100.
func (s Space) FreePct() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Free) * 100 / float64(s.Total)
}

func statSpace(dir string) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return Space{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := uint64(st.Bsize)
	return Space{
		Total: uint64(st.Blocks) * bs,
		Free:  uint64(st.Bavail) * bs,
		Used:  (uint64(st.Blocks) - uint64(st.Bfree)) * bs,
	}, nil
}

// levelOf maps a free percentage onto the pressure levels.
func (c *Controller) levelOf(freePct float64) Level {
	switch {
	case freePct < c.cfg.EmergencyPct:
		return LevelEmergency
	case freePct < c.cfg.CriticalPct:
		return LevelCritical
	case freePct < c.cfg.WarningPct:
		return LevelWarning
	}
	return LevelNormal
}

// floorBytes is the free space eviction defends (0 = none).
func (c *Controller) floorBytes(sp Space) uint64 {
	return uint64(float64(sp.Total) * c.floorPct() / 100)
}

// floorPct is [storage] min_free_pct, or the emergency threshold when that
// is 0: a recorder that fills its disk to the last byte stops recording,
// so some floor always holds while auto_delete_oldest is on.
func (c *Controller) floorPct() float64 {
	if c.cfg.MinFreePct > 0 {
		return c.cfg.MinFreePct
	}
	return c.cfg.EmergencyPct
}

// headroom is how far above the floor eviction starts: recorders keep
// writing until the controller notices (a heartbeat, or sooner when they
// report their writes) and has evicted (a pass), so the trigger sits three times the bytes written in that
// reaction time above the floor, bounded to a tenth of the disk.
func (c *Controller) headroom(sp Space, fillRate float64, reaction time.Duration) uint64 {
	h := uint64(float64(sp.Total) * c.cfg.HeadroomPct / 100)
	r := uint64(3 * fillRate * (c.cfg.Heartbeat + reaction).Seconds())
	r = min(r, sp.Total/10)
	return max(h, r)
}
