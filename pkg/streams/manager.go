package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/host"
	"lightnvr/pkg/media"
)

// ErrNotFound: no such stream.
var ErrNotFound = errors.New("stream not found")

// Options configure a Manager. Zero values take the defaults noted.
type Options struct {
	DB     *db.DB
	Go2RTC *go2rtc.Supervisor
	Logger *slog.Logger
	// StartTimeout bounds one start attempt; the staggered start moves on to the
	// next stream after it even when the stream is not active yet (15 s).
	StartTimeout time.Duration
	// MinAvailableMB holds the next start while MemAvailable is below it (0: off).
	MinAvailableMB int
	// MemAvailableMB reads available memory; /proc/meminfo's MemAvailable by default.
	MemAvailableMB func() (int, error)
	// MemPoll is how often a held start re-reads memory (1 s).
	MemPoll time.Duration
	// Pipelines builds pipelines; nil: register in go2rtc and probe only.
	Pipelines PipelineFactory
	// CheckInterval between keyframe probes of an active stream when there is
	// no pipeline factory (30 s).
	CheckInterval time.Duration
	// StopTimeout for a pipeline to stop (10 s).
	StopTimeout time.Duration
}

func (o *Options) defaults() {
	d := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	d(&o.StartTimeout, 15*time.Second)
	d(&o.MemPoll, time.Second)
	d(&o.CheckInterval, 30*time.Second)
	d(&o.StopTimeout, 10*time.Second)
	if o.MemAvailableMB == nil {
		o.MemAvailableMB = ProcMemAvailableMB
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Manager owns the streams' go2rtc registration, start order and state.
type Manager struct {
	opts Options
	log  *slog.Logger
	db   *db.DB
	g2   *go2rtc.Supervisor

	writeMu sync.Mutex // one create/update/delete at a time: DB and go2rtc change together

	mu      sync.Mutex
	streams map[string]*entry
	g2ch    chan struct{} // closed and replaced when go2rtc's status changes
	kick    chan struct{} // wakes the starter
	// reconciled is the go2rtc generation the last reconcile was tried
	// for: streams start once it is the current one, so none asks go2rtc
	// for a stream it is still being told about.
	reconciled uint64
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	started    bool
}

type entry struct {
	cfg        *db.Stream
	state      State
	reason     string
	since      time.Time
	queued     bool
	queuedAt   time.Time
	startedAt  time.Time
	activeAt   time.Time
	reconnects int
	codec      string
	g2failed   bool // state is error because go2rtc is gone

	// connectLatency is how long the last start took to the first frame.
	connectLatency time.Duration
	failures       ErrorCounts

	pl     Pipeline // set while the worker runs it
	cancel context.CancelFunc
	done   chan struct{}
	first  chan error // the first start attempt's outcome, for the starter
}

// NewManager prepares a manager; Start runs it.
func NewManager(opts Options) (*Manager, error) {
	if opts.DB == nil || opts.Go2RTC == nil {
		return nil, errors.New("streams: manager needs a database and a go2rtc supervisor")
	}
	opts.defaults()
	return &Manager{
		opts:    opts,
		log:     opts.Logger.With("component", "streams"),
		db:      opts.DB,
		g2:      opts.Go2RTC,
		streams: map[string]*entry{},
		g2ch:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
	}, nil
}

// DesiredGo2RTC lists what go2rtc should hold according to the database; the
// supervisor writes it into go2rtc.yaml at every (re)start.
func (m *Manager) DesiredGo2RTC(ctx context.Context) ([]go2rtc.Stream, error) {
	want, _, err := m.desired(ctx)
	return want, err
}

// desired is what go2rtc should hold, and the go2rtc streams lightnvr leaves
// as they are: the override file's and those streams read as go2rtc defines them.
func (m *Manager) desired(ctx context.Context) ([]go2rtc.Stream, map[string]bool, error) {
	list, err := db.ListStreams(ctx, m.db)
	if err != nil {
		return nil, nil, err
	}
	g := m.g2.Settings()
	keep := m.overridden()
	for _, s := range list {
		for _, n := range Go2RTCOwned(s, g) {
			keep[n] = true
		}
	}
	var want []go2rtc.Stream
	for _, st := range Desired(list, g) {
		if !keep[st.Name] {
			want = append(want, st)
		}
	}
	return want, keep, nil
}

// overridden is the set of stream names go2rtc's override file defines: they
// are the machine admin's, so lightnvr neither registers nor deletes them. An
// unreadable file counts as defining nothing, with a log line.
func (m *Manager) overridden() map[string]bool {
	names, err := m.g2.Settings().OverrideStreams()
	if err != nil {
		m.log.Warn("go2rtc override file not read; its streams are managed as usual", "err", err)
	}
	if names == nil {
		names = map[string]bool{}
	}
	return names
}

// notOverridden drops the streams the override file defines from want.
func (m *Manager) notOverridden(want []go2rtc.Stream) []go2rtc.Stream {
	own := m.overridden()
	if len(own) == 0 {
		return want
	}
	out := want[:0:0]
	for _, st := range want {
		if !own[st.Name] {
			out = append(out, st)
		}
	}
	return out
}

// Start loads the streams, queues them for the staggered start and follows
// go2rtc: after it becomes ready (first start or restart) go2rtc is reconciled.
func (m *Manager) Start(ctx context.Context) error {
	list, err := db.ListStreams(ctx, m.db)
	if err != nil {
		return fmt.Errorf("start stream manager: %w", err)
	}
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("stream manager already started")
	}
	m.started = true
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, s := range list {
		if Registered(s) {
			m.streams[s.Name] = m.newQueued(s)
		}
	}
	m.mu.Unlock()
	m.g2.Subscribe(func(go2rtc.Status) {
		m.mu.Lock()
		close(m.g2ch)
		m.g2ch = make(chan struct{})
		m.mu.Unlock()
	})
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.followGo2RTC(m.ctx) }()
	go func() { defer m.wg.Done(); m.runStarter(m.ctx) }()
	m.wake()
	return nil
}

// Stop stops every stream (pipelines flush) and the manager's goroutines.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	if m.cancel == nil {
		m.mu.Unlock()
		return nil
	}
	for _, e := range m.streams {
		if e.cancel != nil {
			m.setStateLocked(e, StateStopping, "")
		}
	}
	m.cancel()
	m.mu.Unlock()
	return waitGroup(ctx, &m.wg, "streams")
}

func (m *Manager) newQueued(s *db.Stream) *entry {
	now := time.Now()
	return &entry{cfg: s, state: StateInactive, reason: "queued for staggered start", since: now, queued: true, queuedAt: now}
}

func (m *Manager) wake() { poke(m.kick) }

func (m *Manager) go2rtcChanged() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.g2ch
}

func (m *Manager) setStateLocked(e *entry, st State, reason string) {
	if e.state != st {
		e.since = time.Now()
		lvl := slog.LevelInfo
		if st == StateError || st == StateReconnecting {
			lvl = slog.LevelWarn
		}
		attrs := []any{"stream", e.cfg.Name, "from", e.state, "to", st}
		if reason != "" {
			attrs = append(attrs, "reason", reason)
		}
		m.log.Log(context.Background(), lvl, "stream state", attrs...)
	}
	if st == StateActive && e.state == StateStarting {
		e.connectLatency = time.Since(e.startedAt)
	}
	e.state, e.reason = st, reason
	if st == StateActive {
		e.activeAt = time.Now()
	}
}

func (m *Manager) setState(e *entry, st State, reason string) {
	m.mu.Lock()
	m.setStateLocked(e, st, reason)
	m.mu.Unlock()
}

// Statuses returns every running stream's status, highest priority first.
func (m *Manager) Statuses() []Status {
	m.mu.Lock()
	out := make([]Status, 0, len(m.streams))
	for _, e := range m.streams {
		out = append(out, e.status())
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// StatusOf returns one stream's status; a stream the manager does not run
// (disabled, unknown) is inactive.
func (m *Manager) StatusOf(name string) Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.streams[name]; ok {
		return e.status()
	}
	return Status{Name: name, State: StateInactive}
}

func (e *entry) status() Status {
	return Status{Name: e.cfg.Name, Priority: e.cfg.Priority, State: e.state, Reason: e.reason, Since: e.since,
		QueuedAt: e.queuedAt, StartedAt: e.startedAt, ActiveAt: e.activeAt, Reconnects: e.reconnects, Codec: e.codec,
		ConnectLatency: e.connectLatency, Errors: e.failures}
}

// ---- go2rtc follow-up -------------------------------------------------------

func (m *Manager) followGo2RTC(ctx context.Context) {
	var lastGen uint64
	for {
		ch := m.go2rtcChanged()
		st := m.g2.Status()
		switch {
		case st.Ready() && st.Generation != lastGen:
			if err := m.reconcileRetry(ctx); err == nil {
				lastGen = st.Generation
			}
			// Tried, even if it failed: go2rtc's own config already holds
			// the streams stored before it started, and a failed reconcile
			// is retried here while starts go on.
			m.mu.Lock()
			m.reconciled = st.Generation
			m.mu.Unlock()
			m.wake()
			m.clearGo2RTCErrors()
			m.wakePipelines()
		case st.State == go2rtc.StateFailed:
			m.markGo2RTCFailed("go2rtc unavailable: " + st.LastError)
		}
		// Up and reconciled, only go2rtc's next change is news; until then
		// a failed reconcile is retried and a failed go2rtc marked again
		// (streams added since) every few seconds. An NVR at rest is not
		// woken for nothing.
		var again <-chan time.Time
		if !st.Ready() || st.Generation != lastGen {
			again = time.After(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-again:
		}
	}
}

func (m *Manager) reconcileRetry(ctx context.Context) error {
	var err error
	for i := 0; i < 3; i++ {
		if _, err = m.Reconcile(ctx); err == nil || ctx.Err() != nil {
			return err
		}
		m.log.Warn("reconcile go2rtc", "attempt", i+1, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return err
}

// Reconcile makes go2rtc's streams match the database (the truth).
func (m *Manager) Reconcile(ctx context.Context) (go2rtc.ReconcileResult, error) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	want, keep, err := m.desired(ctx)
	if err != nil {
		return go2rtc.ReconcileResult{}, err
	}
	res, err := go2rtc.Reconcile(ctx, m.g2.Client(), want, func(name string) bool { return keep[name] })
	if res.Changed() {
		m.log.Info("reconciled go2rtc", "added", res.Added, "updated", res.Updated, "deleted", res.Deleted)
	}
	return res, err
}

func (m *Manager) markGo2RTCFailed(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.streams {
		e.g2failed = true
		m.setStateLocked(e, StateError, reason)
	}
}

func (m *Manager) clearGo2RTCErrors() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.streams {
		if e.g2failed {
			e.g2failed = false
			m.setStateLocked(e, StateReconnecting, "go2rtc is back; reconnecting")
		}
	}
}

// ---- staggered start --------------------------------------------------------

// nextQueued picks the queued stream to start: highest priority, then name.
func (m *Manager) nextQueued() *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var best *entry
	for _, e := range m.streams {
		if !e.queued {
			continue
		}
		if best == nil || e.cfg.Priority > best.cfg.Priority ||
			(e.cfg.Priority == best.cfg.Priority && e.cfg.Name < best.cfg.Name) {
			best = e
		}
	}
	return best
}

func (m *Manager) runStarter(ctx context.Context) {
	for {
		e := m.nextQueued()
		if e == nil {
			select {
			case <-ctx.Done():
				return
			case <-m.kick:
				continue
			}
		}
		if !m.waitGates(ctx, e) {
			if ctx.Err() != nil {
				return
			}
			continue // e was removed or re-queued meanwhile
		}
		m.mu.Lock()
		if cur, ok := m.streams[e.cfg.Name]; !ok || cur != e || !e.queued {
			m.mu.Unlock()
			continue
		}
		e.queued = false
		e.startedAt = time.Now()
		wctx, cancel := context.WithCancel(ctx)
		e.cancel, e.done, e.first = cancel, make(chan struct{}), make(chan error, 1)
		m.setStateLocked(e, StateStarting, "")
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer close(e.done)
			m.runStream(wctx, e)
		}()
		m.mu.Unlock()

		// The next stream waits for this one's first keyframe or its timeout.
		t := time.NewTimer(m.opts.StartTimeout)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-e.first:
		case <-e.done:
		case <-t.C:
			m.log.Warn("stream did not become active within the start timeout; starting the next",
				"stream", e.cfg.Name, "timeout", m.opts.StartTimeout)
		}
		t.Stop()
	}
}

// waitGates holds the start of e while go2rtc is not ready or memory is short.
// It returns false when e stopped being the stream to start.
func (m *Manager) waitGates(ctx context.Context, e *entry) bool {
	for {
		m.mu.Lock()
		cur, ok := m.streams[e.cfg.Name]
		m.mu.Unlock()
		if !ok || cur != e || !e.queued {
			return false
		}
		if n := m.nextQueued(); n != e {
			return false // a higher priority stream arrived
		}
		ch := m.go2rtcChanged()
		m.mu.Lock()
		reconciled := m.reconciled
		m.mu.Unlock()
		if st := m.g2.Status(); !st.Ready() || st.Generation != reconciled {
			switch {
			case st.Ready():
				m.setReason(e, "waiting for go2rtc (registering streams)")
			case st.State != go2rtc.StateFailed:
				m.setReason(e, "waiting for go2rtc ("+string(st.State)+")")
			}
			select {
			case <-ctx.Done():
				return false
			case <-ch:
			case <-m.kick:
			case <-time.After(time.Second):
			}
			continue
		}
		if floor := m.opts.MinAvailableMB; floor > 0 {
			avail, err := m.opts.MemAvailableMB()
			if err != nil {
				m.log.Warn("read available memory; not holding starts for it", "err", err)
			} else if avail < floor {
				m.setReason(e, fmt.Sprintf("waiting for memory: %d MB available, floor is %d MB", avail, floor))
				select {
				case <-ctx.Done():
					return false
				case <-m.kick:
				case <-time.After(m.opts.MemPoll):
				}
				continue
			}
		}
		return true
	}
}

func (m *Manager) setReason(e *entry, reason string) {
	m.mu.Lock()
	if e.reason != reason {
		e.reason = reason
	}
	m.mu.Unlock()
}

// ---- one stream -------------------------------------------------------------

func (m *Manager) reportFirst(e *entry, err error) {
	select {
	case e.first <- err:
	default:
	}
}

// runStream runs e's pipeline until ctx ends. The pipeline reconnects by
// itself; its reports drive e's state.
func (m *Manager) runStream(ctx context.Context, e *entry) {
	m.mu.Lock()
	cfg := *e.cfg
	m.mu.Unlock()
	// While go2rtc is down nothing can work; wait for it instead of burning attempts.
	for !m.g2.Status().Ready() {
		ch := m.go2rtcChanged()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-time.After(time.Second):
		}
	}
	pl := m.newPipeline(cfg.Name)
	err := pl.Start(ctx, StreamConfig{Stream: cfg, RTSPURL: m.g2.Settings().RTSPURL(cfg.Name),
		Report: func(in Ingest) { m.report(e, in) }})
	if err != nil {
		err = fmt.Errorf("start pipeline: %w", err)
		m.setState(e, StateError, err.Error())
		m.reportFirst(e, err)
		<-ctx.Done()
		return
	}
	m.mu.Lock()
	e.pl = pl
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	e.pl = nil
	m.mu.Unlock()
	stop, cancel := context.WithTimeout(context.Background(), m.opts.StopTimeout)
	defer cancel()
	if err := pl.Stop(stop); err != nil {
		m.log.Warn("stop pipeline", "stream", cfg.Name, "err", err)
	}
}

func (m *Manager) newPipeline(name string) Pipeline {
	if m.opts.Pipelines != nil {
		return m.opts.Pipelines(name)
	}
	return newProbePipeline(m.opts.CheckInterval, m.opts.StartTimeout)
}

// report turns a pipeline's ingest report into e's state. A source that
// lost its session counts one reconnect; the pipeline retries by itself.
func (m *Manager) report(e *entry, in Ingest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.state == StateStopping {
		return
	}
	switch in.State {
	case media.SourcePlaying:
		if in.Codec != "" {
			e.codec = in.Codec
		}
		e.g2failed = false
		m.setStateLocked(e, StateActive, "")
		m.reportFirst(e, nil)
	case media.SourceReconnecting:
		if e.state == StateActive {
			e.reconnects++
		}
		reason := "stream ended"
		if in.Err != nil {
			reason = in.Err.Error()
			e.failures.add(in.Err)
		}
		if !e.g2failed {
			m.setStateLocked(e, StateReconnecting, reason)
		}
		m.reportFirst(e, errors.New(reason))
	}
}

// wakePipelines cuts every pipeline's backoff short: go2rtc is (back) up.
func (m *Manager) wakePipelines() {
	m.mu.Lock()
	var pls []Pipeline
	for _, e := range m.streams {
		if e.pl != nil {
			pls = append(pls, e.pl)
		}
	}
	m.mu.Unlock()
	for _, pl := range pls {
		pl.Wake()
	}
}

// stopEntryLocked cancels e's worker; the caller waits on the returned channel
// after releasing m.mu.
func (m *Manager) stopEntryLocked(e *entry) <-chan struct{} {
	e.queued = false
	if e.cancel == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	m.setStateLocked(e, StateStopping, "")
	e.cancel()
	return e.done
}

// restart stops name's worker (if any) and queues it again from cfg; a cfg that
// does not belong in go2rtc just stops it.
func (m *Manager) restart(cfg *db.Stream) {
	m.mu.Lock()
	old := m.streams[cfg.Name]
	var wait <-chan struct{}
	if old != nil {
		wait = m.stopEntryLocked(old)
		delete(m.streams, cfg.Name)
	}
	m.mu.Unlock()
	if wait != nil {
		<-wait
	}
	if !Registered(cfg) {
		return
	}
	m.mu.Lock()
	if m.ctx != nil && m.ctx.Err() == nil {
		m.streams[cfg.Name] = m.newQueued(cfg)
	}
	m.mu.Unlock()
	m.wake()
}

func (m *Manager) remove(name string) {
	m.mu.Lock()
	e := m.streams[name]
	var wait <-chan struct{}
	if e != nil {
		wait = m.stopEntryLocked(e)
		delete(m.streams, name)
	}
	m.mu.Unlock()
	if wait != nil {
		<-wait
	}
	m.wake()
}

// ---- desired-state changes --------------------------------------------------

// InvalidError is a change go2rtc or the manager refused because of its content.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// go2rtcReady reports whether go2rtc can take changes now. When it cannot,
// changes go to the database only; the reconcile after go2rtc's start applies them.
func (m *Manager) go2rtcReady() bool { return m.g2.Status().Ready() }

func (m *Manager) put(ctx context.Context, s *db.Stream) error {
	for _, st := range m.notOverridden(Desired([]*db.Stream{s}, m.g2.Settings())) {
		if err := m.g2.Client().PutStream(ctx, st.Name, st.Sources); err != nil {
			var ae *go2rtc.APIError
			if errors.As(err, &ae) && ae.Status == 400 {
				return &InvalidError{Err: fmt.Errorf("go2rtc refused the source: %s", strings.TrimSpace(ae.Body))}
			}
			return err
		}
	}
	return nil
}

func (m *Manager) unregister(ctx context.Context, s *db.Stream) error {
	own := m.overridden()
	for _, n := range Go2RTCOwned(s, m.g2.Settings()) {
		own[n] = true
	}
	names := []string{s.Name}
	if s.SubStreamURL != "" {
		names = append(names, s.Name+SubStreamSuffix)
	}
	for _, n := range names {
		if own[n] {
			continue
		}
		if err := m.g2.Client().DeleteStream(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// inTx runs write in a transaction, then apply (the go2rtc side), then commits.
// A failing apply rolls the transaction back; a failing commit runs undo, so the
// database and go2rtc never disagree for longer than the call.
func (m *Manager) inTx(ctx context.Context, write func(q db.Querier) error, apply, undo func(ctx context.Context) error) error {
	tx, err := m.db.Begin(ctx)
	if err != nil {
		return err
	}
	if err := write(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if apply != nil && m.go2rtcReady() {
		if err := apply(ctx); err != nil {
			_ = tx.Rollback()
			return err
		}
	} else {
		undo = nil
	}
	if err := tx.Commit(); err != nil {
		if undo != nil {
			if uerr := undo(context.WithoutCancel(ctx)); uerr != nil {
				m.log.Error("undo go2rtc change after failed commit; the next reconcile repairs it", "err", uerr)
			}
		}
		return err
	}
	return nil
}

// Create adds a stream: row and go2rtc registration together, then the
// staggered start picks it up. db.ErrStreamExists when the name is taken.
func (m *Manager) Create(ctx context.Context, s *db.Stream) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	cp := *s
	err := m.inTx(ctx,
		func(q db.Querier) error { return db.InsertStream(ctx, q, &cp) },
		func(ctx context.Context) error {
			if !Registered(&cp) {
				return nil
			}
			return m.put(ctx, &cp)
		},
		func(ctx context.Context) error { return m.unregister(ctx, &cp) })
	if err != nil {
		return fmt.Errorf("create stream %q: %w", s.Name, err)
	}
	s.ID = cp.ID
	m.restart(&cp)
	return nil
}

// Update replaces a stream's settings (the name never changes). go2rtc is
// re-registered and the stream restarted when anything that feeds it changed.
func (m *Manager) Update(ctx context.Context, s *db.Stream) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	old, err := m.stored(ctx, "update", s.Name)
	if err != nil {
		return err
	}
	cp := *s
	cp.ID = old.ID
	feedChanged := Registered(old) != Registered(&cp) || !slices.Equal(SourcesFor(old), SourcesFor(&cp)) ||
		old.SubStreamURL != cp.SubStreamURL
	apply := func(ctx context.Context) error {
		if !feedChanged {
			return nil
		}
		if Registered(old) && (!Registered(&cp) || old.SubStreamURL != cp.SubStreamURL) {
			if err := m.unregister(ctx, old); err != nil {
				return err
			}
		}
		if Registered(&cp) {
			return m.put(ctx, &cp)
		}
		return nil
	}
	undo := func(ctx context.Context) error {
		if !feedChanged {
			return nil
		}
		if Registered(old) {
			return m.put(ctx, old)
		}
		return m.unregister(ctx, &cp)
	}
	if err := m.inTx(ctx, func(q db.Querier) error { return db.UpdateStream(ctx, q, &cp) }, apply, undo); err != nil {
		return fmt.Errorf("update stream %q: %w", s.Name, err)
	}
	restart := feedChanged || (m.opts.Pipelines != nil && !reflect.DeepEqual(*old, cp))
	if restart {
		m.restart(&cp)
	} else {
		m.mu.Lock()
		if e, ok := m.streams[cp.Name]; ok {
			e.cfg = &cp
		}
		m.mu.Unlock()
	}
	return nil
}

// stored reads name's row for op; a missing row is ErrNotFound.
func (m *Manager) stored(ctx context.Context, op, name string) (*db.Stream, error) {
	s, err := db.StreamByName(ctx, m.db, name)
	if errors.Is(err, db.ErrStreamNotFound) {
		return nil, fmt.Errorf("%s stream %q: %w", op, name, ErrNotFound)
	}
	return s, err
}

// Delete removes a stream from go2rtc and stops it; permanent deletes the row,
// otherwise the row is only disabled (LightNVR's soft delete).
func (m *Manager) Delete(ctx context.Context, name string, permanent bool) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	old, err := m.stored(ctx, "delete", name)
	if err != nil {
		return err
	}
	write := func(q db.Querier) error {
		if permanent {
			return db.DeleteStream(ctx, q, name)
		}
		return db.SetStreamEnabled(ctx, q, name, false)
	}
	apply := func(ctx context.Context) error {
		if !Registered(old) {
			return nil
		}
		return m.unregister(ctx, old)
	}
	undo := func(ctx context.Context) error {
		if !Registered(old) {
			return nil
		}
		return m.put(ctx, old)
	}
	if err := m.inTx(ctx, write, apply, undo); err != nil {
		return fmt.Errorf("delete stream %q: %w", name, err)
	}
	m.remove(name)
	return nil
}

// Refresh re-registers a stream in go2rtc and restarts it.
func (m *Manager) Refresh(ctx context.Context, name string) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	s, err := m.stored(ctx, "refresh", name)
	if err != nil {
		return err
	}
	if Registered(s) && m.go2rtcReady() {
		if err := m.put(ctx, s); err != nil {
			return fmt.Errorf("refresh stream %q: %w", name, err)
		}
	}
	m.restart(s)
	return nil
}

// ProcMemAvailableMB is the machine's available memory in MiB.
func ProcMemAvailableMB() (int, error) {
	m, err := host.ReadMemory(host.MeminfoPath)
	if err != nil {
		return 0, err
	}
	return int(m.Available >> 20), nil
}

// ErrGo2RTCUnavailable: the operation needs go2rtc and it is not running.
var ErrGo2RTCUnavailable = errors.New("go2rtc is not running")

// TestSource checks that a camera URL delivers video: it registers the URL in
// go2rtc under a temporary name, waits for a keyframe through go2rtc (the same
// path a stream will take), and removes it again. Failures to reach the source
// are InvalidErrors.
func (m *Manager) TestSource(ctx context.Context, rawURL, user, pass string) (ProbeResult, error) {
	if !m.go2rtcReady() {
		return ProbeResult{}, ErrGo2RTCUnavailable
	}
	name := fmt.Sprintf("lightnvr_test_%d", time.Now().UnixNano())
	src := withCredentials(rawURL, user, pass)
	if r, ok := m.g2.Settings().RestreamOf(src); ok {
		src = m.g2.Settings().Source(r) // go2rtc demands its credentials
	}
	if err := m.g2.Client().PutStream(ctx, name, []string{src}); err != nil {
		var ae *go2rtc.APIError
		if errors.As(err, &ae) && ae.Status == 400 {
			return ProbeResult{}, &InvalidError{Err: fmt.Errorf("go2rtc refused the source: %s", strings.TrimSpace(ae.Body))}
		}
		return ProbeResult{}, err
	}
	defer func() {
		if err := m.g2.Client().DeleteStream(context.WithoutCancel(ctx), name); err != nil {
			m.log.Warn("remove test stream from go2rtc; the next reconcile removes it", "err", err)
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, m.opts.StartTimeout)
	defer cancel()
	res, err := ProbeKeyframe(pctx, m.g2.Settings().RTSPURL(name))
	if err != nil {
		return res, &InvalidError{Err: err}
	}
	return res, nil
}

// MaxStreamsReached reports whether the database holds limit streams already (0: no limit).
func (m *Manager) MaxStreamsReached(ctx context.Context, limit int) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	n, err := db.CountStreams(ctx, m.db)
	return n >= limit, err
}
