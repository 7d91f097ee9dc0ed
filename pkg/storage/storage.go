// Package storage keeps a data directory from filling: age retention per
// stream and class, per-stream quotas, a free-space floor with pressure
// levels, and the sync of database rows with files. One Controller runs
// per data directory. Every deletion goes through the recordings garbage
// table (row moved → file unlinked → directory synced → garbage row gone),
// so a crash at any point leaves neither an orphan file nor a dangling row.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
)

// Config configures a Controller. Zero durations and sizes take the
// defaults noted.
type Config struct {
	Dir    string // data directory ([storage] path); recordings live under Dir/mp4
	DB     *db.DB
	Logger *slog.Logger

	// RetentionDays is the global age limit a stream's -1 inherits
	// (0 = unlimited).
	RetentionDays int
	// MaxSize caps the bytes of all recordings (0 = no cap).
	MaxSize int64
	// AutoDeleteOldest enables eviction for the free-space floor.
	AutoDeleteOldest bool
	// MinFreePct is the free-space floor in percent; 0 falls back to
	// EmergencyPct.
	MinFreePct float64
	// Pressure thresholds in percent free (defaults 20, 10, 5).
	WarningPct, CriticalPct, EmergencyPct float64
	// HeadroomPct is the least distance (percent of the disk) above the
	// floor at which eviction starts; more when the disk fills fast.
	// Default 2.
	HeadroomPct float64

	// Heartbeat is the statfs period (default 1 min; recorders that report
	// their writes through Wrote make the controller read sooner when the
	// disk fills fast); PassInterval the
	// retention pass period (default 5 min); DeepInterval the period of the
	// search for files without rows (default 6 h); StatsInterval the
	// period of the daily statistics snapshot (default 15 min).
	Heartbeat, PassInterval, DeepInterval, StatsInterval time.Duration
	// BatchSize is how many rows one delete transaction takes (default
	// 100); MaxDeletesPerPass bounds one pass (default 1000), so a pass
	// never holds the database for long and a backlog is worked off over
	// several passes.
	BatchSize, MaxDeletesPerPass int
	// OrphanBatch is how many rows one pass checks for a missing file
	// (default 500); MountSample how many rows, spread over the table, are
	// checked to tell an unmounted disk (default 32).
	OrphanBatch, MountSample int
	// MaxIndexPerPass bounds the files without rows indexed per pass
	// (default 200). MinOrphanAge is how old (mtime) such a file must be to
	// be indexed (default 10 min).
	MaxIndexPerPass int
	MinOrphanAge    time.Duration

	// Now is the clock for ages and dates (default time.Now).
	Now func() time.Time
	// OnLevelChange is called (from the controller's goroutine) when the
	// pressure level changes, e.g. to publish it over MQTT.
	OnLevelChange func(LevelChange)
}

// FromConfig fills a Config from [storage].
func FromConfig(c *config.Config, d *db.DB, log *slog.Logger) Config {
	st := &c.Storage
	return Config{
		Dir: st.Path, DB: d, Logger: log,
		RetentionDays: st.RetentionDays, MaxSize: st.MaxSize, AutoDeleteOldest: st.AutoDeleteOldest,
		MinFreePct: float64(st.MinFreePct), WarningPct: st.PressureWarningPct,
		CriticalPct: st.PressureCriticalPct, EmergencyPct: st.PressureEmergencyPct,
	}
}

func (cfg *Config) defaults() {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WarningPct == 0 && cfg.CriticalPct == 0 && cfg.EmergencyPct == 0 {
		cfg.WarningPct, cfg.CriticalPct, cfg.EmergencyPct = 20, 10, 5
	}
	if cfg.HeadroomPct <= 0 {
		cfg.HeadroomPct = 2
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Heartbeat, time.Minute)
	def(&cfg.PassInterval, 5*time.Minute)
	def(&cfg.DeepInterval, 6*time.Hour)
	def(&cfg.StatsInterval, 15*time.Minute)
	def(&cfg.MinOrphanAge, 10*time.Minute)
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&cfg.BatchSize, 100)
	defInt(&cfg.MaxDeletesPerPass, 1000)
	defInt(&cfg.OrphanBatch, 500)
	defInt(&cfg.MountSample, 32)
	defInt(&cfg.MaxIndexPerPass, 200)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// LevelChange is a transition of the pressure level.
type LevelChange struct {
	Previous, Current Level
	Space             Space
}

// PassResult is what one retention pass did.
type PassResult struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Deleted and Freed count recordings and their bytes by reason: "age",
	// "detection_age", "quota", "max_size", "pressure", "missing_file".
	Deleted   map[string]int   `json:"deleted"`
	Freed     map[string]int64 `json:"freed_bytes"`
	Indexed   int              `json:"indexed"` // files without rows now indexed
	Unmounted bool             `json:"unmounted"`
	Error     string           `json:"error,omitempty"`
}

// TotalDeleted sums Deleted.
func (r *PassResult) TotalDeleted() int {
	n := 0
	for _, v := range r.Deleted {
		n += v
	}
	return n
}

// TotalFreed sums Freed.
func (r *PassResult) TotalFreed() int64 {
	var n int64
	for _, v := range r.Freed {
		n += v
	}
	return n
}

// Status is the controller's state for the API, logs, MQTT and diag.
type Status struct {
	Dir       string    `json:"dir"`
	Space     Space     `json:"space"`
	FreePct   float64   `json:"free_pct"`
	Level     Level     `json:"level"`
	FloorPct  float64   `json:"floor_pct"`
	CheckedAt time.Time `json:"checked_at"`
	// FillRate is the estimated bytes written per second, deletions aside.
	FillRate float64 `json:"fill_rate_bytes_per_sec"`
	// Unmounted is set while the data directory looks like an empty mount
	// point (its files gone while the database lists them): nothing is
	// deleted then. Warning says why.
	Unmounted bool        `json:"unmounted"`
	Warning   string      `json:"warning,omitempty"`
	LastPass  *PassResult `json:"last_pass,omitempty"`
	LastDeep  time.Time   `json:"last_deep"`
	// Err is the last heartbeat or pass error ("" when fine).
	Err string `json:"error,omitempty"`
	// Reported is every byte recorders reported through Wrote since start:
	// zero while recording means the floor rests on the heartbeat alone.
	Reported int64 `json:"reported_bytes"`
	// EstimatedFree is the free space now as the controller reckons it
	// between two readings of the disk: the last reading less what
	// recorders reported since.
	EstimatedFree uint64 `json:"estimated_free_bytes"`
}

// Controller runs retention for one data directory.
type Controller struct {
	cfg Config
	log *slog.Logger

	passMu sync.Mutex // one pass at a time (loop and callers of RunPass)

	mu        sync.Mutex
	st        Status
	lastFree  uint64
	lastCheck time.Time
	freedAcc  int64 // bytes freed by deletions since the last heartbeat
	cursor    int64 // orphan-row scan position (id)
	lastStats time.Time
	skipFiles map[string]struct{} // files without rows that could not be indexed
	reaction  time.Duration       // how long relieving pressure takes (moving average)

	// written counts the bytes recorders reported since the last reading
	// of the disk; slack is how many they may write before the next.
	written, slack atomic.Int64
	reported       atomic.Int64
	check          chan struct{} // Wrote asks for a reading of the disk
	capCheck       chan struct{} // Wrote asks for the caps to be enforced
	// budgets maps a stream with a quota, and allStreams under max_size,
	// to the bytes it may still write before a pass is due (*atomic.Int64).
	budgets sync.Map

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a controller; Start runs it.
func New(cfg Config) (*Controller, error) {
	if cfg.Dir == "" || cfg.DB == nil {
		return nil, errors.New("storage: data directory and database are required")
	}
	cfg.defaults()
	if !(cfg.EmergencyPct < cfg.CriticalPct && cfg.CriticalPct < cfg.WarningPct) {
		return nil, fmt.Errorf("storage: pressure thresholds must satisfy emergency (%g) < critical (%g) < warning (%g)",
			cfg.EmergencyPct, cfg.CriticalPct, cfg.WarningPct)
	}
	c := &Controller{cfg: cfg, log: cfg.Logger.With("component", "storage", "dir", cfg.Dir),
		kick: make(chan struct{}, 1), check: make(chan struct{}, 1), capCheck: make(chan struct{}, 1), skipFiles: map[string]struct{}{},
		// Until a pass under pressure has been timed, assume a slow one.
		reaction: time.Second}
	c.st.Dir = cfg.Dir
	c.st.FloorPct = c.floorPct()
	return c, nil
}

// Start finishes deletions a crash interrupted, takes a first reading of
// the disk and starts the controller's goroutine; Stop ends it.
func (c *Controller) Start(ctx context.Context) error {
	if c.done != nil {
		return errors.New("storage: already started")
	}
	if err := c.FinishPendingDeletes(ctx); err != nil {
		return err
	}
	if sp, err := c.Heartbeat(); err != nil {
		c.log.Warn("storage not readable yet", "err", err)
	} else if c.belowTrigger(sp) {
		// A disk that starts below its floor is relieved before Start
		// returns, so before the daemon starts its recorders: not a
		// heartbeat or a pass later.
		if _, err := c.relieve(ctx); err != nil {
			c.log.Warn("relieving the disk at start", "err", err)
		}
	}
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.done = make(chan struct{})
	go c.loop(ctx)
	return nil
}

// Stop ends the goroutine, waiting for a running pass (which stops at its
// next batch) until ctx ends.
func (c *Controller) Stop(ctx context.Context) error {
	if c.done == nil {
		return nil
	}
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop storage controller: %w", ctx.Err())
	}
}

// Kick asks for a retention pass now (asynchronously).
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Wrote tells the controller that n bytes were written under the data
// directory; recorders call it after each part. A heartbeat a minute
// apart cannot see a small disk that fills faster than that, so once the
// bytes reported since the last reading reach half the distance to the
// eviction trigger, the controller reads the disk again (one statfs) and
// relieves it at once if needed. Until then Wrote is an atomic add: it
// never blocks the recorder.
//
// Each stream with a quota, and all recordings under [storage] max_size,
// also have a budget: the bytes left under the cap at the last pass. The
// write that uses one up asks for a short pass of the caps at once, so a
// cap holds between passes too, within about two segments per stream.
func (c *Controller) Wrote(stream string, n int64) {
	c.reported.Add(n)
	for _, key := range [2]string{stream, allStreams} {
		if b, ok := c.budgets.Load(key); ok {
			if left := b.(*atomic.Int64).Add(-n); left <= 0 && left+n > 0 {
				select {
				case c.capCheck <- struct{}{}:
				default:
				}
			}
		}
	}
	if c.written.Add(n) < c.slack.Load() {
		return
	}
	select {
	case c.check <- struct{}{}:
	default:
	}
}

// Status returns a snapshot of the controller's state.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	if st.LastPass != nil {
		p := *st.LastPass
		st.LastPass = &p
	}
	st.Reported = c.reported.Load()
	st.EstimatedFree = uint64(max(int64(st.Space.Free)-c.written.Load(), 0))
	return st
}

// Level returns the current pressure level.
func (c *Controller) Level() Level {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Level
}

func (c *Controller) loop(ctx context.Context) {
	defer close(c.done)
	hb := time.NewTicker(c.cfg.Heartbeat)
	defer hb.Stop()
	pass := time.NewTimer(0) // a first pass right away
	defer pass.Stop()
	for {
		urgent, read, caps := false, false, false
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			read = true
		case <-c.check: // recorders wrote a share of the headroom
			read = true
		case <-c.capCheck: // recorders used up the budget of a cap
			urgent, caps = true, true
		case <-pass.C:
		case <-c.kick:
		}
		if read {
			sp, err := c.Heartbeat()
			urgent = err == nil && c.belowTrigger(sp)
			if !urgent {
				continue
			}
		}
		run := c.RunPass
		switch {
		case caps:
			run = c.enforceCaps
		case urgent:
			run = c.relieve
		}
		res, err := run(ctx)
		if ctx.Err() != nil {
			return
		}
		next := c.cfg.PassInterval
		switch {
		case err != nil:
		case urgent:
			// The full pass keeps its own schedule.
			continue
		case res.Deleted["pressure"] > 0:
			// Under pressure, go on as long as the last pass could free
			// something; it is bounded, so recorders and the API get the
			// database in between.
			if sp, err := c.Heartbeat(); err == nil && c.belowTrigger(sp) && res.TotalDeleted() > 0 {
				next = 0
			} else if c.Level() != LevelNormal {
				next = c.cfg.PassInterval / 3
			}
		case c.Level() != LevelNormal:
			next = c.cfg.PassInterval / 3
		}
		if !pass.Stop() {
			select {
			case <-pass.C:
			default:
			}
		}
		pass.Reset(next)
	}
}

// Heartbeat reads the disk (one statfs), updates the level and the fill
// rate estimate, and logs and reports a level change.
func (c *Controller) Heartbeat() (Space, error) {
	sp, err := statSpace(c.cfg.Dir)
	now := time.Now()
	c.mu.Lock()
	if err != nil {
		c.st.Err = err.Error()
		c.mu.Unlock()
		return sp, err
	}
	prev := c.st.Level
	lvl := c.levelOf(sp.FreePct())
	// Readings closer than half a heartbeat (the floor loop reads often)
	// are too noisy for a rate: they only update the level.
	if dt := now.Sub(c.lastCheck).Seconds(); c.lastCheck.IsZero() || dt >= c.cfg.Heartbeat.Seconds()/2 {
		if !c.lastCheck.IsZero() {
			written := max(float64(int64(c.lastFree)-int64(sp.Free)+c.freedAcc)/dt, 0)
			// Fast up, slow down: the headroom follows the busiest recent
			// writing, not the average.
			if written > c.st.FillRate {
				c.st.FillRate = written
			} else {
				c.st.FillRate = 0.9*c.st.FillRate + 0.1*written
			}
		}
		c.lastCheck, c.lastFree, c.freedAcc = now, sp.Free, 0
	}
	c.st.Space, c.st.FreePct, c.st.Level, c.st.CheckedAt = sp, sp.FreePct(), lvl, c.cfg.Now()
	if c.st.Err != "" && c.st.LastPass != nil && c.st.LastPass.Error == "" {
		c.st.Err = ""
	}
	c.mu.Unlock()
	c.setSlack(sp)
	if lvl != prev {
		attrs := []any{"previous", prev.String(), "current", lvl.String(), "free_pct", fmt.Sprintf("%.1f", sp.FreePct()),
			"free_mb", sp.Free >> 20, "total_mb", sp.Total >> 20}
		switch {
		case lvl == LevelEmergency:
			c.log.Error("disk pressure level changed", attrs...)
		case lvl > prev:
			c.log.Warn("disk pressure level changed", attrs...)
		default:
			c.log.Info("disk pressure level changed", attrs...)
		}
		if c.cfg.OnLevelChange != nil {
			c.cfg.OnLevelChange(LevelChange{Previous: prev, Current: lvl, Space: sp})
		}
	}
	return sp, nil
}

// setSlack sets how much recorders may write (see Wrote) before the disk
// is read again: half the distance to the eviction trigger, and at least
// half the headroom, so a disk stuck under its trigger with nothing left
// to evict is read once per 1% or so of it written, not on every part.
// Without auto_delete_oldest nothing is evicted: the heartbeat suffices.
func (c *Controller) setSlack(sp Space) {
	slack := int64(math.MaxInt64)
	if c.cfg.AutoDeleteOldest {
		head := c.currentHeadroom(sp)
		slack = max((int64(sp.Free)-int64(c.floorBytes(sp)+head))/2, int64(head/2))
	}
	c.slack.Store(slack)
	c.written.Store(0)
}

// belowTrigger reports whether free space is low enough to evict.
func (c *Controller) belowTrigger(sp Space) bool {
	if !c.cfg.AutoDeleteOldest {
		return false
	}
	return sp.Free < c.floorBytes(sp)+c.currentHeadroom(sp)
}

func (c *Controller) currentHeadroom(sp Space) uint64 {
	c.mu.Lock()
	rate, reaction := c.st.FillRate, c.reaction
	c.mu.Unlock()
	return c.headroom(sp, rate, reaction)
}
