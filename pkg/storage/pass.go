package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync/atomic"
	"time"

	"lightnvr/pkg/db"
)

// pass is the state of one retention pass.
type pass struct {
	c      *Controller
	ctx    context.Context
	now    time.Time
	budget int // deletions left in this pass
	res    *PassResult
}

// RunPass runs one retention pass now: mount check, age retention, quotas,
// the global size cap, the free-space floor, missing files, files without
// rows (every DeepInterval) and the daily statistics. It deletes at most
// MaxDeletesPerPass recordings. Passes never overlap.
func (c *Controller) RunPass(ctx context.Context) (PassResult, error) {
	return c.runPass(ctx, passFull)
}

// relieve is the short pass run as soon as a heartbeat finds free space
// under the trigger: mount check and the free-space floor only.
func (c *Controller) relieve(ctx context.Context) (PassResult, error) {
	return c.runPass(ctx, passFloor)
}

// enforceCaps is the short pass run as soon as recorders used up the
// budget of a quota or of max_size: mount check and the caps only.
func (c *Controller) enforceCaps(ctx context.Context) (PassResult, error) {
	return c.runPass(ctx, passCaps)
}

// passKind says which stages a pass runs.
type passKind int

const (
	passFull passKind = iota
	passFloor
	passCaps
)

func (c *Controller) runPass(ctx context.Context, kind passKind) (PassResult, error) {
	c.passMu.Lock()
	defer c.passMu.Unlock()
	start := time.Now()
	p := &pass{c: c, ctx: ctx, now: c.cfg.Now(), budget: c.cfg.MaxDeletesPerPass,
		res: &PassResult{Started: c.cfg.Now(), Deleted: map[string]int{}, Freed: map[string]int64{}}}
	err := p.run(kind)
	p.res.Duration = time.Since(start)
	if err != nil {
		p.res.Error = err.Error()
	}
	res := *p.res
	c.mu.Lock()
	if res.Deleted["pressure"] > 0 {
		// Fast up, slow down, as the fill rate.
		c.reaction = max(res.Duration, (c.reaction*7+res.Duration)/8)
	}
	c.st.LastPass = &res
	if err != nil {
		c.st.Err = err.Error()
	} else {
		c.st.Err = ""
	}
	c.mu.Unlock()
	if n := res.TotalDeleted(); n > 0 || err != nil {
		attrs := []any{"deleted", n, "freed_mb", res.TotalFreed() >> 20, "duration", res.Duration.Round(time.Millisecond)}
		for k, v := range res.Deleted {
			attrs = append(attrs, k, v)
		}
		if err != nil {
			c.log.Warn("retention pass failed", append(attrs, "err", err)...)
		} else {
			c.log.Info("retention pass", attrs...)
		}
	}
	return res, err
}

func (p *pass) run(kind passKind) error {
	c := p.c
	if _, err := c.Heartbeat(); err != nil {
		return err
	}
	mounted, why, err := c.checkMounted(p.ctx)
	if err != nil {
		return err
	}
	c.setUnmounted(!mounted, why)
	if !mounted {
		p.res.Unmounted = true
		return nil
	}
	switch kind {
	case passFloor:
		return p.floor()
	case passCaps:
		return errors.Join(p.quotas(), p.maxSize(), c.resetBudgets(p.ctx))
	}
	var errs []error
	keep := func(err error) bool {
		if err != nil {
			errs = append(errs, err)
		}
		return p.ctx.Err() == nil
	}
	// The floor is checked between stages too (one statfs when there is
	// room): a long pass must not leave recorders to fill the disk.
	for _, stage := range []func() error{p.floor, p.ageRetention, p.floor, p.quotas, p.maxSize, p.floor,
		p.missingFiles, p.floor, p.indexOrphans, p.floor} {
		if !keep(stage()) {
			return errors.Join(append(errs, p.ctx.Err())...)
		}
	}
	keep(c.resetBudgets(p.ctx))
	if c.cfg.Now().Sub(c.lastStatsTime()) >= c.cfg.StatsInterval {
		if keep(c.updateDailyStats(p.ctx)) {
			c.mu.Lock()
			c.lastStats = c.cfg.Now()
			c.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) lastStatsTime() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastStats
}

// remove deletes the given candidates (still guarded against protection
// and reopening) and counts them under reason.
func (p *pass) remove(reason string, cands []db.StoredRecording) (moved int, freed int64, err error) {
	if len(cands) > p.budget {
		cands = cands[:p.budget]
	}
	if len(cands) == 0 {
		return 0, 0, nil
	}
	ids := make([]int64, len(cands))
	for i, r := range cands {
		ids[i] = r.ID
	}
	gone, err := p.c.deleteRecordings(p.ctx, ids)
	for _, m := range gone {
		freed += m.SizeBytes
	}
	p.budget -= len(gone)
	p.res.Deleted[reason] += len(gone)
	p.res.Freed[reason] += freed
	return len(gone), freed, err
}

// effectiveDays resolves a stream's retention value: -1 (any negative)
// inherits the global value; 0 is unlimited.
func effectiveDays(v, global int) int {
	if v < 0 {
		return global
	}
	return v
}

// ageRetention deletes what is older than each stream's retention, and
// detection clips older than its detection retention. Recordings of
// streams that no longer exist follow the global retention.
func (p *pass) ageRetention() error {
	c := p.c
	streams, err := db.ListStreams(p.ctx, c.cfg.DB)
	if err != nil {
		return err
	}
	recorded, err := db.RecordedStreams(p.ctx, c.cfg.DB)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, s := range streams {
		known[s.Name] = true
	}
	for _, name := range recorded {
		if !known[name] {
			streams = append(streams, &db.Stream{Name: name, RetentionDays: -1, DetectionRetentionDays: -1})
		}
	}
	var errs []error
	for _, s := range streams {
		for _, class := range []struct {
			detection bool
			days      int
			reason    string
		}{
			{false, effectiveDays(s.RetentionDays, c.cfg.RetentionDays), "age"},
			{true, effectiveDays(s.DetectionRetentionDays, c.cfg.RetentionDays), "detection_age"},
		} {
			if class.days <= 0 {
				continue
			}
			for _, l := range tierLimits(s, float64(class.days)) {
				cutoff := p.now.Add(-time.Duration(l.days * float64(24*time.Hour))).Unix()
				if err := p.expire(s.Name, class.detection, l.tier, cutoff, class.reason); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Retention tiers (recordings.retention_tier), as LightNVR's.
const (
	tierCritical = iota
	tierImportant
	_ // standard: multiplier 1, the stream's own retention
	tierEphemeral
)

type tierLimit struct {
	tier int // -1: every tier
	days float64
}

// tierLimits are the age limits of a stream's recordings given the base
// days of their class. LightNVR applies two rules: the stream's retention
// to every tier, and tiered expiry at base days × the tier's multiplier
// (critical 3, important 2, standard 1, ephemeral 0.25; zero or invalid
// ones take those defaults). A recording goes at the first limit it
// passes, so only a multiplier below 1 shortens a tier's life.
func tierLimits(s *db.Stream, base float64) []tierLimit {
	out := []tierLimit{{-1, base}}
	for _, t := range []struct {
		tier   int
		m, def float64
	}{{tierCritical, s.TierCriticalMultiplier, 3}, {tierImportant, s.TierImportantMultiplier, 2},
		{tierEphemeral, s.TierEphemeralMultiplier, 0.25}} {
		m := t.m
		if !(m > 0) || math.IsInf(m, 0) {
			m = t.def
		}
		if m < 1 {
			out = append(out, tierLimit{t.tier, base * m})
		}
	}
	return out
}

// expire deletes the recordings of stream, of one class and tier (-1 any),
// that started before cutoff, batch by batch within the pass's budget.
func (p *pass) expire(stream string, detection bool, tier int, cutoff int64, reason string) error {
	c := p.c
	for p.budget > 0 && p.ctx.Err() == nil {
		cands, err := db.ExpiredRecordings(p.ctx, c.cfg.DB, stream, cutoff, p.now.Unix(), detection, tier,
			min(c.cfg.BatchSize, p.budget))
		if err != nil {
			return err
		}
		if _, _, err := p.remove(reason, cands); err != nil {
			return err
		}
		if len(cands) < c.cfg.BatchSize {
			return nil
		}
	}
	return nil
}

// evictOver deletes the oldest evictable recordings of stream ("" = all)
// until over bytes are freed, and returns the bytes freed.
func (p *pass) evictOver(stream, reason string, over int64) (int64, error) {
	var freed int64
	for freed < over && p.budget > 0 && p.ctx.Err() == nil {
		cands, err := db.EvictableRecordings(p.ctx, p.c.cfg.DB, stream, min(p.c.cfg.BatchSize, p.budget))
		if err != nil || len(cands) == 0 {
			return freed, err
		}
		// The query's order is the eviction order: take just enough.
		var sum int64
		take := cands[:0:0]
		for _, r := range cands {
			take = append(take, r)
			if sum += r.SizeBytes; freed+sum >= over {
				break
			}
		}
		moved, n, err := p.remove(reason, take)
		freed += n
		if err != nil || moved == 0 {
			// moved == 0: every candidate got protected or reopened
			// meanwhile; the next pass looks again.
			return freed, err
		}
	}
	return freed, nil
}

// quotas enforces max_storage_mb per stream.
func (p *pass) quotas() error {
	streams, err := db.ListStreams(p.ctx, p.c.cfg.DB)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range streams {
		if s.MaxStorageMB <= 0 || p.budget == 0 {
			continue
		}
		u, err := db.StreamUsage(p.ctx, p.c.cfg.DB, s.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if over := u.Bytes - int64(s.MaxStorageMB)<<20; over > 0 {
			if _, err := p.evictOver(s.Name, "quota", over); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// maxSize enforces [storage] max_size over all recordings.
func (p *pass) maxSize() error {
	if p.c.cfg.MaxSize <= 0 || p.budget == 0 {
		return nil
	}
	u, err := db.StreamUsage(p.ctx, p.c.cfg.DB, "")
	if err != nil {
		return err
	}
	if over := u.Bytes - p.c.cfg.MaxSize; over > 0 {
		_, err = p.evictOver("", "max_size", over)
	}
	return err
}

// floor evicts the most expendable, oldest recordings while free space is
// below the floor plus headroom, until it is a further headroom above.
func (p *pass) floor() error {
	c := p.c
	if !c.cfg.AutoDeleteOldest {
		return nil
	}
	for p.budget > 0 && p.ctx.Err() == nil {
		sp, err := c.Heartbeat()
		if err != nil {
			return err
		}
		if !c.belowTrigger(sp) {
			return nil
		}
		target := c.floorBytes(sp) + 2*c.currentHeadroom(sp)
		need := int64(target) - int64(sp.Free)
		freed, err := p.evictOver("", "pressure", need)
		if err != nil {
			return err
		}
		if freed == 0 {
			c.log.Error("disk below its free-space floor and nothing left to evict (all protected or being written)",
				"free_mb", sp.Free>>20, "floor_mb", c.floorBytes(sp)>>20)
			return nil
		}
		after, err := statSpace(c.cfg.Dir)
		if err != nil {
			return err
		}
		if after.Free <= sp.Free && freed >= 1<<20 {
			// Deleting did not give back space: the files are not where
			// the rows say (another disk, or a stale mount). Stop before
			// the index of a disk that is not there is emptied.
			c.log.Error("evicting recordings frees no space on the data directory; eviction stopped",
				"freed_by_rows_mb", freed>>20, "free_mb", after.Free>>20)
			return nil
		}
	}
	return nil
}

// updateDailyStats snapshots today's per-stream count and bytes.
func (c *Controller) updateDailyStats(ctx context.Context) error {
	us, err := db.UsageByStream(ctx, c.cfg.DB)
	if err != nil {
		return err
	}
	date := c.cfg.Now().Format("2006-01-02")
	for _, u := range us {
		if err := db.SetDailyUsage(ctx, c.cfg.DB, date, u.StreamName, u.Tier, u.Count, u.Bytes); err != nil {
			return err
		}
	}
	return nil
}

// StreamSummary is one stream's share of the disk.
type StreamSummary struct {
	Name      string `json:"name"`
	Count     int64  `json:"recording_count"`
	Bytes     int64  `json:"bytes"`
	Protected int64  `json:"protected_count"`
	// Retention as configured (-1 inherits) and as in effect (0 unlimited).
	RetentionDays                   int `json:"retention_days"`
	DetectionRetentionDays          int `json:"detection_retention_days"`
	EffectiveRetentionDays          int `json:"effective_retention_days"`
	EffectiveDetectionRetentionDays int `json:"effective_detection_retention_days"`
	MaxStorageMB                    int `json:"max_storage_mb"`
}

// Summary is the storage overview for the UI.
type Summary struct {
	Status  Status          `json:"status"`
	Streams []StreamSummary `json:"streams"`
	Daily   []db.DailyStat  `json:"daily"`
	Count   int64           `json:"recording_count"`
	Bytes   int64           `json:"recording_bytes"`
}

// Summary reads per-stream usage and the daily statistics of the last
// days (0 = 30).
func (c *Controller) Summary(ctx context.Context, days int) (*Summary, error) {
	if days <= 0 {
		days = 30
	}
	s := &Summary{Status: c.Status(), Streams: []StreamSummary{}}
	us, err := db.UsageByStream(ctx, c.cfg.DB)
	if err != nil {
		return nil, err
	}
	rets, err := db.ListStreams(ctx, c.cfg.DB)
	if err != nil {
		return nil, err
	}
	by := map[string]*StreamSummary{}
	get := func(name string) *StreamSummary {
		if ss := by[name]; ss != nil {
			return ss
		}
		ss := &StreamSummary{Name: name, RetentionDays: -1, DetectionRetentionDays: -1}
		by[name] = ss
		return ss
	}
	for _, r := range rets {
		ss := get(r.Name)
		ss.RetentionDays, ss.DetectionRetentionDays, ss.MaxStorageMB = r.RetentionDays, r.DetectionRetentionDays, r.MaxStorageMB
	}
	for _, u := range us {
		ss := get(u.StreamName)
		ss.Count += u.Count
		ss.Bytes += u.Bytes
		ss.Protected += u.Protected
		s.Count += u.Count
		s.Bytes += u.Bytes
	}
	for _, ss := range by {
		ss.EffectiveRetentionDays = effectiveDays(ss.RetentionDays, c.cfg.RetentionDays)
		ss.EffectiveDetectionRetentionDays = effectiveDays(ss.DetectionRetentionDays, c.cfg.RetentionDays)
		s.Streams = append(s.Streams, *ss)
	}
	sort.Slice(s.Streams, func(i, j int) bool { return s.Streams[i].Name < s.Streams[j].Name })
	since := c.cfg.Now().AddDate(0, 0, -days).Format("2006-01-02")
	if s.Daily, err = db.DailyStats(ctx, c.cfg.DB, since); err != nil {
		return nil, err
	}
	if s.Daily == nil {
		s.Daily = []db.DailyStat{}
	}
	return s, nil
}

// Protect sets or clears the protection of recordings and returns how many
// exist among ids. A protected recording is never deleted by retention.
func (c *Controller) Protect(ctx context.Context, ids []int64, protected bool) (int64, error) {
	return db.SetRecordingProtected(ctx, c.cfg.DB, ids, protected)
}

// MaxRetentionOverrideDays is the longest per-recording override (100 years).
const MaxRetentionOverrideDays = 36500

// ErrInvalid marks a change the controller refuses as out of range; the
// error's text says why, in words for the user.
var ErrInvalid = errors.New("invalid change")

type invalidError string

func (e invalidError) Error() string        { return string(e) }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

// SetRetentionOverride sets how long one recording is kept at least:
// days > 0 keeps it that many days from its start, 0 forever, and a
// negative value clears the override. db.ErrRecordingNotFound when no
// recording has id.
func (c *Controller) SetRetentionOverride(ctx context.Context, id int64, days int) error {
	if days > MaxRetentionOverrideDays {
		return invalidError(fmt.Sprintf("retention_days %d: at most %d", days, MaxRetentionOverrideDays))
	}
	var v *int
	if days >= 0 {
		v = &days
	}
	return db.SetRecordingRetentionOverride(ctx, c.cfg.DB, id, v)
}

// allStreams is the budgets key of [storage] max_size.
const allStreams = ""

// resetBudgets sets, after a pass, how many bytes each capped stream and
// all recordings may take before the next pass is due (see Wrote). A cap
// the pass could not get under (protected recordings) waits for another
// hundredth of it.
func (c *Controller) resetBudgets(ctx context.Context) error {
	usage, err := db.UsageByStream(ctx, c.cfg.DB)
	if err != nil {
		return err
	}
	streams, err := db.ListStreams(ctx, c.cfg.DB)
	if err != nil {
		return err
	}
	used := map[string]int64{}
	for _, u := range usage {
		used[u.StreamName] += u.Bytes
		used[allStreams] += u.Bytes
	}
	caps := map[string]int64{}
	if c.cfg.MaxSize > 0 {
		caps[allStreams] = c.cfg.MaxSize
	}
	for _, s := range streams {
		if s.MaxStorageMB > 0 {
			caps[s.Name] = int64(s.MaxStorageMB) << 20
		}
	}
	c.budgets.Range(func(k, _ any) bool {
		if _, ok := caps[k.(string)]; !ok {
			c.budgets.Delete(k)
		}
		return true
	})
	for k, limit := range caps {
		left := limit - used[k]
		if left <= 0 {
			left = max(limit/100, 1)
		}
		b, _ := c.budgets.LoadOrStore(k, new(atomic.Int64))
		b.(*atomic.Int64).Store(left)
	}
	return nil
}
