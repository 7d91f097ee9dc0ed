package detect

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
)

// loadRules reads a stream's zones and object filter. A stream that does not
// exist is db.ErrStreamNotFound.
func loadRules(ctx context.Context, q db.Querier, stream string) (Rules, error) {
	s, err := db.StreamByName(ctx, q, stream)
	if err != nil {
		return Rules{}, err
	}
	objects, err := NewObjectFilter(s.DetectionObjectFilter, s.DetectionObjectFilterList)
	if err != nil {
		return Rules{}, fmt.Errorf("stream %s: %w", stream, err)
	}
	rows, err := db.StreamZones(ctx, q, stream)
	if err != nil {
		return Rules{}, err
	}
	r := Rules{Objects: objects}
	for _, row := range rows {
		z, err := ZoneFromRow(row)
		if err != nil {
			return Rules{}, fmt.Errorf("stream %s: %w", stream, err)
		}
		r.Zones = append(r.Zones, z)
	}
	return r, nil
}

// keepByRules is what stream's zones and object filter, read afresh from
// d, keep of dets: a detector publishes only these, so the live feed, the
// clips and the snapshots see what the detections table will. A nil d
// keeps everything.
func keepByRules(ctx context.Context, d *db.DB, stream string, dets []event.Detection) ([]event.Detection, error) {
	if d == nil || len(dets) == 0 {
		return dets, nil
	}
	r, err := loadRules(ctx, d, stream)
	if err != nil {
		return nil, fmt.Errorf("detection rules: %w", err)
	}
	return r.Apply(dets), nil
}

const (
	// batchRows and flushEvery bound a batch: one transaction per batch
	// keeps a burst of detections from taking the write lock per row.
	batchRows  = 64
	flushEvery = time.Second
	// storeBuffer is how many events wait for the store before the bus
	// counts them lost.
	storeBuffer = 256
	// finalFlushTimeout bounds writing the last batch at shutdown.
	finalFlushTimeout = 5 * time.Second
)

// Store writes the detections the stream's rules keep to the detections
// table, in batches. Events whose detections are all filtered out leave no
// row.
type Store struct {
	db      *db.DB
	sub     *event.Subscription
	log     *slog.Logger
	pending []event.Event
	rows    int    // detections in pending
	dropped uint64 // bus losses already reported
	// snaps, when set, takes a picture of stored events that carry none.
	snaps *Snapshots
}

// NewStore subscribes to bus at once, so no event published after it returns
// is missed; Run writes them.
func NewStore(d *db.DB, bus *event.Bus, log *slog.Logger) *Store {
	return &Store{db: d, sub: bus.Subscribe(storeBuffer), log: log.With("component", "detections")}
}

// KeepSnapshots makes the store take a go2rtc picture of every stored event
// that carries none (at most one per stream per few seconds). Call it
// before Run, which then also runs snaps.
func (s *Store) KeepSnapshots(snaps *Snapshots) { s.snaps = snaps }

// Run stores events until ctx ends, then writes what is still waiting and
// unsubscribes.
func (s *Store) Run(ctx context.Context) {
	defer s.sub.Close()
	if s.snaps != nil {
		done := make(chan struct{})
		go func() { defer close(done); s.snaps.Run(ctx) }()
		defer func() { <-done }()
	}
	// Armed only while events wait: an idle daemon's store does not wake.
	flush := time.NewTimer(flushEvery)
	flush.Stop()
	armed := false
	for {
		select {
		case e := <-s.sub.C():
			s.add(e)
			if s.rows >= batchRows {
				s.flush(ctx)
			}
			switch waiting := len(s.pending) > 0; {
			case waiting && !armed:
				flush.Reset(flushEvery)
				armed = true
			case !waiting && armed:
				flush.Stop()
				armed = false
			}
		case <-flush.C:
			armed = false
			s.flush(ctx)
		case <-ctx.Done():
			s.drain()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
			s.flush(fctx)
			cancel()
			return
		}
	}
}

func (s *Store) add(e event.Event) {
	if len(e.Detections) > 0 {
		s.pending = append(s.pending, e)
		s.rows += len(e.Detections)
	}
}

// drain takes the events already delivered.
func (s *Store) drain() {
	for {
		select {
		case e := <-s.sub.C():
			s.add(e)
		default:
			return
		}
	}
}

// flush filters the pending events by their streams' rules, read afresh so
// a zone change applies to the next batch, and writes the rest.
func (s *Store) flush(ctx context.Context) {
	if d := s.sub.Dropped(); d > s.dropped {
		s.log.Warn("detection events lost: the database fell behind", "lost", d-s.dropped)
		s.dropped = d
	}
	if len(s.pending) == 0 {
		return
	}
	rules := map[string]*Rules{}
	var rows []db.Detection
	for _, e := range s.pending {
		r, ok := rules[e.Stream]
		if !ok {
			r = s.rules(ctx, e.Stream)
			rules[e.Stream] = r
		}
		if r == nil {
			continue
		}
		kept := r.Apply(e.Detections)
		rows = append(rows, detectionRows(e, kept)...)
		if len(kept) > 0 && e.Snapshot == "" && s.snaps != nil {
			s.snaps.Request(e.Stream, e.Time)
		}
	}
	if err := db.InsertDetections(ctx, s.db, rows); err != nil {
		s.log.Error("store detections", "rows", len(rows), "err", err)
	}
	s.pending, s.rows = s.pending[:0], 0
}

// rules are the stream's rules, nil when they cannot be read: its events
// are dropped rather than stored unfiltered.
func (s *Store) rules(ctx context.Context, stream string) *Rules {
	r, err := loadRules(ctx, s.db, stream)
	if err != nil {
		s.log.Warn("detections dropped: no rules for the stream", "stream", stream, "err", err)
		return nil
	}
	return &r
}

// detectionRows are the rows of the kept detections of e: points in time.
func detectionRows(e event.Event, kept []event.Detection) []db.Detection {
	ts := e.Time.Unix()
	source := ""
	if e.Source == event.SourceAPI || e.Source == event.SourceONVIF {
		source = string(e.Source) // LightNVR names only external events' origin
	}
	out := make([]db.Detection, 0, len(kept))
	for _, d := range kept {
		out = append(out, db.Detection{StreamName: e.Stream, Timestamp: ts, Label: d.Label, Confidence: d.Confidence,
			X: d.X, Y: d.Y, Width: d.Width, Height: d.Height, TrackID: d.TrackID, ZoneID: d.ZoneID,
			Source: source, EventEndTime: ts})
	}
	return out
}
