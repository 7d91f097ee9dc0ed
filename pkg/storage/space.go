package storage

import (
	"fmt"
	"lightnvr/pkg/host"
	"time"
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

// Space is the filesystem holding the data directory (see host.Disk: Free
// never counts the blocks ext4 keeps for root).
type Space = host.Disk

func statSpace(dir string) (Space, error) { return host.StatDisk(dir) }

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
