package record

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"lightnvr/pkg/db"
)

// SyncEvery is how often a Syncer makes the recorders' writes durable: a
// part written is on disk, and indexed, within this time.
const SyncEvery = time.Second

// Syncer makes the parts of many recorders durable together, once per
// tick: one goroutine fdatasyncs every file written since the last tick,
// then writes the part indexes queued meanwhile in one transaction, so a
// saved index never names a part that is not on disk yet. Recorders hand
// it their files instead of syncing after every part themselves.
type Syncer struct {
	db   *db.DB
	sync func(*os.File) error
	log  *slog.Logger

	// round is held for a whole round, so forget returns only once no
	// round still uses the file: its segment may then close it.
	round sync.Mutex

	mu      sync.Mutex
	dirty   map[*os.File]*db.RecordingIndex // written since the last round; the index to save after, or nil
	failed  map[*os.File]error              // sync errors not yet seen by their recorder
	running bool                            // loop is on

	files []*os.File // one round's files, reused
	ixs   []*db.RecordingIndex
}

// NewSyncer returns a Syncer writing indexes to d; sync makes a file
// durable (fdatasync when nil).
func NewSyncer(d *db.DB, sync func(*os.File) error, log *slog.Logger) *Syncer {
	if sync == nil {
		sync = fdatasync
	}
	if log == nil {
		log = slog.Default()
	}
	return &Syncer{db: d, sync: sync, log: log,
		dirty: map[*os.File]*db.RecordingIndex{}, failed: map[*os.File]error{}}
}

// loop runs rounds every SyncEvery while recorders write; it ends after a
// round with nothing to do, and written starts it again.
func (s *Syncer) loop() {
	t := time.NewTicker(SyncEvery)
	defer t.Stop()
	for range t.C {
		if !s.Flush() {
			return
		}
	}
}

// written queues f, just written, for the next round, with the index to
// save once it is durable (nil: none). It returns the error of an earlier
// round's sync of f, which the recorder treats as a failed write.
func (s *Syncer) written(f *os.File, ix *db.RecordingIndex) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failed[f]; err != nil {
		delete(s.failed, f)
		return err
	}
	if ix == nil {
		ix = s.dirty[f] // keep an index queued earlier in this round
	}
	s.dirty[f] = ix
	if !s.running {
		s.running = true
		go s.loop()
	}
	return nil
}

// forget drops f before its segment syncs and closes it itself.
func (s *Syncer) forget(f *os.File) {
	s.round.Lock()
	defer s.round.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dirty, f)
	delete(s.failed, f)
}

// Flush runs one round: it syncs every file written since the last one and
// then saves their queued indexes in one transaction. It reports false,
// and lets the loop end, when there was nothing to sync.
func (s *Syncer) Flush() bool {
	s.round.Lock()
	defer s.round.Unlock()
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.running = false
		s.mu.Unlock()
		return false
	}
	files, ixs := s.files[:0], s.ixs[:0]
	for f, ix := range s.dirty {
		files = append(files, f)
		ixs = append(ixs, ix)
	}
	clear(s.dirty)
	s.mu.Unlock()

	saved := ixs[:0]
	for i, f := range files {
		if err := s.sync(f); err != nil {
			s.mu.Lock()
			s.failed[f] = err
			s.mu.Unlock()
			continue
		}
		if ixs[i] != nil {
			saved = append(saved, ixs[i])
		}
	}
	if len(saved) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		// The index is rebuilt from the file if need be; the video matters more.
		if err := db.PutOpenRecordingIndexes(ctx, s.db, saved); err != nil {
			s.log.Warn("part indexes not saved", "err", err)
		}
		cancel()
	}
	clear(files)
	clear(ixs)
	s.files, s.ixs = files[:0], ixs[:0]
	return true
}
