package record

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"

	"lightnvr/pkg/db"
)

// Syncer makes the parts of many recorders durable together, as a group
// commit: one goroutine fdatasyncs every file written since its last
// round, then writes the part indexes queued meanwhile in one transaction,
// so a saved index never names a part that is not on disk yet; whatever
// arrives during a round waits for the next, which starts at once.
// Recorders hand it their files instead of syncing after every part
// themselves, so a slow disk stalls no recorder, and under load many
// streams' index rows share one commit. There is no tick to wait for: a
// part is durable as soon as one round after it ends, and a power cut loses
// at most the part being buffered and the round in flight.
type Syncer struct {
	db   *db.DB
	sync func(*os.File) error
	log  *slog.Logger

	// round is held for a whole round, so forget returns only once no
	// round still uses the file: its segment may then close it.
	round sync.Mutex

	mu      sync.Mutex
	pending []syncEntry // files written since the last round, and failed syncs not yet reported
	running bool        // loop is on

	taken []syncEntry // one round's files, reused
	ixs   []*db.RecordingIndex
}

// syncEntry is a file to sync and the index to save once it is durable
// (nil: none), or, with err set, a failed sync its recorder has not seen.
// A Syncer holds a few per recorder at most: slices beat maps here.
type syncEntry struct {
	f   *os.File
	ix  *db.RecordingIndex
	err error
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
	return &Syncer{db: d, sync: sync, log: log}
}

// loop runs rounds back to back while recorders write; it ends after a
// round with nothing to do, and written starts it again.
func (s *Syncer) loop() {
	for s.Flush() {
	}
}

// written queues f, just written, for the next round, with the index to
// save once it is durable (nil: none). It returns the error of an earlier
// round's sync of f, which the recorder treats as a failed write.
func (s *Syncer) written(f *os.File, ix *db.RecordingIndex) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	queued := -1
	for i, e := range s.pending {
		switch {
		case e.f != f:
		case e.err != nil:
			s.pending = slices.Delete(s.pending, i, i+1)
			return e.err
		default:
			queued = i
		}
	}
	switch {
	case queued < 0:
		s.pending = append(s.pending, syncEntry{f: f, ix: ix})
	case ix != nil: // else keep the index queued earlier in this round
		s.pending[queued].ix = ix
	}
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
	s.pending = slices.DeleteFunc(s.pending, func(e syncEntry) bool { return e.f == f })
}

// Flush runs one round: it syncs every file written since the last one and
// then saves their queued indexes in one transaction. It reports false,
// and lets the loop end, when there was nothing to sync.
func (s *Syncer) Flush() bool {
	s.round.Lock()
	defer s.round.Unlock()
	s.mu.Lock()
	taken, left := s.taken[:0], s.pending[:0]
	for _, e := range s.pending {
		if e.err != nil {
			left = append(left, e)
		} else {
			taken = append(taken, e)
		}
	}
	clear(s.pending[len(left):])
	s.pending = left
	if len(taken) == 0 {
		s.running = false
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()

	saved := s.ixs[:0]
	for _, e := range taken {
		if err := s.sync(e.f); err != nil {
			s.mu.Lock()
			s.pending = append(s.pending, syncEntry{f: e.f, err: err})
			s.mu.Unlock()
		} else if e.ix != nil {
			saved = append(saved, e.ix)
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
	clear(taken)
	clear(saved)
	s.taken, s.ixs = taken[:0], saved[:0]
	return true
}
