package record

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"

	"lightnvr/pkg/db"
)

// IndexWriter saves the part indexes of many recorders together, as a group
// commit: one goroutine writes every index queued since its last round in
// one transaction, and whatever arrives during a round waits for the next,
// which starts at once. With synchronous=FULL every commit is a disk sync,
// so under load many streams' index rows share one.
//
// The parts themselves are not its business: each recorder fdatasyncs its
// part right after writing it, so a power cut loses at most the part being
// buffered. Grouping those syncs into rounds too was tried; under emulation
// a cut then lost up to 1.8 s of a stream, and it saved no measurable CPU.
type IndexWriter struct {
	db  *db.DB
	log *slog.Logger

	// round is held for a whole round, so forget returns only once no
	// round still holds an index of the file's recording.
	round sync.Mutex

	mu      sync.Mutex
	pending []indexEntry // indexes queued since the last round, one per file
	running bool         // loop is on

	taken []indexEntry // one round's entries, reused
	ixs   []*db.RecordingIndex
}

// indexEntry is the newest index of the recording written to f.
// An IndexWriter holds one per recorder at most: slices beat maps here.
type indexEntry struct {
	f  *os.File
	ix *db.RecordingIndex
}

// NewIndexWriter returns a IndexWriter writing indexes to d.
func NewIndexWriter(d *db.DB, log *slog.Logger) *IndexWriter {
	if log == nil {
		log = slog.Default()
	}
	return &IndexWriter{db: d, log: log}
}

// loop runs rounds back to back while recorders write; it ends after a
// round with nothing to do, and written starts it again.
func (s *IndexWriter) loop() {
	for s.Flush() {
	}
}

// written queues ix, the index of the recording written to f (its parts
// already durable), for the next round, in place of one queued earlier.
func (s *IndexWriter) written(f *os.File, ix *db.RecordingIndex) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.pending, func(e indexEntry) bool { return e.f == f }); i >= 0 {
		s.pending[i].ix = ix
	} else {
		s.pending = append(s.pending, indexEntry{f: f, ix: ix})
	}
	if !s.running {
		s.running = true
		go s.loop()
	}
}

// forget drops f's queued index before its segment saves its final one.
func (s *IndexWriter) forget(f *os.File) {
	s.round.Lock()
	defer s.round.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = slices.DeleteFunc(s.pending, func(e indexEntry) bool { return e.f == f })
}

// Flush runs one round: it saves the indexes queued since the last one in
// one transaction. It reports false, and lets the loop end, when there was
// nothing to save.
func (s *IndexWriter) Flush() bool {
	s.round.Lock()
	defer s.round.Unlock()
	s.mu.Lock()
	taken := append(s.taken[:0], s.pending...)
	clear(s.pending)
	s.pending = s.pending[:0]
	if len(taken) == 0 {
		s.running = false
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()

	saved := s.ixs[:0]
	for _, e := range taken {
		saved = append(saved, e.ix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	// The index is rebuilt from the file if need be; the video matters more.
	if err := db.PutOpenRecordingIndexes(ctx, s.db, saved); err != nil {
		s.log.Warn("part indexes not saved", "err", err)
	}
	cancel()
	clear(taken)
	clear(saved)
	s.taken, s.ixs = taken[:0], saved[:0]
	return true
}
