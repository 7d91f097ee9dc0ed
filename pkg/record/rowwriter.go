package record

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"lightnvr/pkg/db"
)

// RowWriter writes the rows of many recorders together, as a group
// commit: one goroutine writes what was queued since its last round in
// one transaction (db.WriteRecordings), and whatever arrives during a
// round waits for the next. Its rounds carry the rows of new segments
// (the recorder waits for the id), the completion of closed ones (the
// closer waits for it) and the part indexes of open ones (nobody waits).
//
// Streams started together cut their segments together. Each cut was two
// or three write transactions of its own, and on a slow device (the
// emulated board: SQLite interpreted, every commit a flush of an emulated
// disk) sixteen writers polling one lock outwaited BusyTimeout: "database
// is locked", a segment lost, a row left to repair. Here they share one
// or two commits.
//
// The parts themselves are not its business: each recorder fdatasyncs its
// part right after writing it, so a power cut loses at most the part being
// buffered. Grouping those syncs into rounds too was tried; under emulation
// a cut then lost up to 1.8 s of a stream, and it saved no measurable CPU.
type RowWriter struct {
	db  *db.DB
	log *slog.Logger

	// round is held for a whole round, so forget returns only once no
	// round still holds an index of the file's recording.
	round sync.Mutex

	mu        sync.Mutex
	pending   []indexEntry // indexes queued since the last round, one per file
	inserts   []*rowJob
	finishes  []*rowJob
	running   bool          // loop is on
	lastRound time.Time     // when the last round began
	kick      chan struct{} // a row is waited for: the loop stops waiting for indexRoundGap

	// onRound, set by tests before the first write, sees every round's
	// writes and outcome.
	onRound func(*db.RecordingWrites, error)
}

// indexRoundGap is the least time between the start of a round and that
// of the next one carrying only open indexes.
const indexRoundGap = 5 * time.Second

// retryPause is the wait after a round that could not commit.
const retryPause = time.Second

// slowRound is how long a round may take before it is logged.
const slowRound = 2 * time.Second

// indexEntry is the newest index of the recording written to f.
// A RowWriter holds one per recorder at most: slices beat maps here.
type indexEntry struct {
	f  *os.File
	ix *db.RecordingIndex
}

// rowJob is an insert or a finish a caller waits for.
type rowJob struct {
	ctx  context.Context // the caller's: a job it gave up on is dropped unless a round has it
	rec  *db.Recording   // an insert
	ix   *db.RecordingIndex
	end  db.RecordingEnd
	done chan struct{} // closed once err is set
	err  error
}

// NewRowWriter returns a RowWriter writing to d.
func NewRowWriter(d *db.DB, log *slog.Logger) *RowWriter {
	if log == nil {
		log = slog.Default()
	}
	return &RowWriter{db: d, log: log, kick: make(chan struct{}, 1)}
}

// loop runs rounds while recorders write; it ends after a round with
// nothing to do, and the next queued write starts it again. A row someone
// waits for starts a round at once (after the one running); open indexes
// alone wait for indexRoundGap after the last round, so on a disk where a
// commit takes seconds the writer is mostly idle when a segment is cut,
// and the new segment's row does not queue behind a round of indexes.
func (w *RowWriter) loop() {
	for {
		w.mu.Lock()
		wait := time.Duration(0)
		if len(w.inserts)+len(w.finishes) == 0 && len(w.pending) > 0 {
			wait = indexRoundGap - time.Since(w.lastRound)
		}
		w.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-w.kick:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		if !w.Flush() {
			return
		}
	}
}

// start runs the loop unless it is on; w.mu is held.
func (w *RowWriter) start() {
	if !w.running {
		w.running = true
		go w.loop()
	}
}

// written queues ix, the index of the recording written to f (its parts
// already durable), for the next round, in place of one queued earlier.
func (w *RowWriter) written(f *os.File, ix *db.RecordingIndex) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.IndexFunc(w.pending, func(e indexEntry) bool { return e.f == f }); i >= 0 {
		w.pending[i].ix = ix
	} else {
		w.pending = append(w.pending, indexEntry{f: f, ix: ix})
	}
	w.start()
}

// forget drops f's queued index before its segment saves its final one.
func (w *RowWriter) forget(f *os.File) {
	w.round.Lock()
	defer w.round.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = slices.DeleteFunc(w.pending, func(e indexEntry) bool { return e.f == f })
}

// insert writes rec as a new incomplete row in the next round and returns
// its id.
func (w *RowWriter) insert(ctx context.Context, rec *db.Recording) (int64, error) {
	j := &rowJob{ctx: ctx, rec: rec, done: make(chan struct{})}
	if err := w.wait(j, &w.inserts); err != nil {
		return 0, err
	}
	return rec.ID, nil
}

// finish stores a closed segment's final index and end, and marks its row
// complete, in the next round.
func (w *RowWriter) finish(ctx context.Context, ix *db.RecordingIndex, end db.RecordingEnd) error {
	return w.wait(&rowJob{ctx: ctx, ix: ix, end: end, done: make(chan struct{})}, &w.finishes)
}

// wait queues j on queue and returns its outcome. If j's context ends
// first, j is taken back unless a round has it already; then the round's
// outcome is j's, so a caller never returns while its row may still be
// written behind its back.
func (w *RowWriter) wait(j *rowJob, queue *[]*rowJob) error {
	w.mu.Lock()
	*queue = append(*queue, j)
	w.start()
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	select {
	case <-j.done:
		return j.err
	case <-j.ctx.Done():
	}
	w.mu.Lock()
	if i := slices.Index(*queue, j); i >= 0 {
		*queue = slices.Delete(*queue, i, i+1)
		w.mu.Unlock()
		return j.ctx.Err()
	}
	w.mu.Unlock()
	<-j.done // bounded by the round's own timeout
	return j.err
}

// Flush runs one round: it writes in one transaction the new segments'
// rows queued since the last round or, when there are none, the
// completions and indexes. It reports false, and lets the loop end, when
// there was nothing to write.
//
// When the database stays locked past BusyTimeout (another writer: the
// API, retention) or the round runs out of time (a disk too slow to
// flush), the inserts and finishes go back to the queue for the next
// round while their callers still wait: a segment is not lost to a lock
// held for a few seconds. The open indexes are dropped; newer ones follow
// within seconds.
func (w *RowWriter) Flush() bool {
	w.round.Lock()
	defer w.round.Unlock()
	w.mu.Lock()
	// New segments' rows go alone when there are any: their recorders
	// wait for them, and a small round commits soonest. Completions and
	// indexes, which nobody's video waits for, take the next round.
	var taken []indexEntry
	var finishes []*rowJob
	inserts := w.inserts
	w.inserts = nil
	if len(inserts) == 0 {
		taken, finishes = w.pending, w.finishes
		w.pending, w.finishes = nil, nil
	}
	if len(taken)+len(inserts)+len(finishes) == 0 {
		w.running = false
		w.mu.Unlock()
		return false
	}
	w.lastRound = time.Now()
	w.mu.Unlock()

	wr := &db.RecordingWrites{}
	for _, j := range inserts {
		wr.Insert = append(wr.Insert, db.RecordingInsert{Rec: j.rec})
	}
	for _, j := range finishes {
		wr.Finish = append(wr.Finish, db.RecordingFinish{Index: j.ix, End: j.end})
	}
	for _, e := range taken {
		wr.Open = append(wr.Open, e.ix)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rowTimeout)
	began := time.Now()
	err := db.WriteRecordings(ctx, w.db, wr)
	timedOut := ctx.Err() != nil
	cancel()
	if took := time.Since(began); took > slowRound {
		// Every recorder opening a segment waited this long for its row.
		w.log.Warn("recording rows were slow to write", "took", took.Round(time.Millisecond), "err", err,
			"new", len(inserts), "completed", len(finishes), "indexes", len(taken))
	}
	if w.onRound != nil {
		w.onRound(wr, err)
	}
	switch {
	case err == nil:
		for i, j := range inserts {
			j.err = wr.Insert[i].Err
			close(j.done)
		}
		for i, j := range finishes {
			j.err = wr.Finish[i].Err
			close(j.done)
		}
	case db.IsBusy(err) || timedOut:
		// Nothing was committed: the callers still waiting are served by
		// a later round instead of all failing together.
		w.log.Warn("recording rows not written yet; trying again", "err", err,
			"new", len(inserts), "completed", len(finishes))
		w.requeue(inserts, &w.inserts, err)
		w.requeue(finishes, &w.finishes, err)
		// A breath before trying again: a round that ran out of time on a
		// saturated board would otherwise take the CPU from the very
		// recorders it serves.
		time.Sleep(retryPause)
	default:
		for _, j := range slices.Concat(inserts, finishes) {
			j.err = err
			close(j.done)
		}
	}
	if err != nil && len(taken) > 0 {
		// The index is rebuilt from the file if need be; the video matters more.
		w.log.Warn("part indexes not saved", "err", err)
	}
	return true
}

// requeue puts the jobs of a round that could not get the lock back at the
// head of queue, ahead of those queued meanwhile, except those whose
// caller has given up: they end with err.
func (w *RowWriter) requeue(jobs []*rowJob, queue *[]*rowJob, err error) {
	var again []*rowJob
	for _, j := range jobs {
		if j.ctx.Err() != nil {
			j.err = err
			close(j.done)
			continue
		}
		again = append(again, j)
	}
	w.mu.Lock()
	*queue = append(again, *queue...)
	w.mu.Unlock()
}
