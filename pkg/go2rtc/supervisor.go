package go2rtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"lightnvr/pkg/backoff"
)

// State of go2rtc as the supervisor sees it.
type State string

// Supervisor states.
const (
	StateStopped    State = "stopped"
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StateRestarting State = "restarting" // waiting out the backoff before the next start
	StateFailed     State = "failed"     // restart budget exhausted
	StateDown       State = "down"       // external mode: API not answering
)

// Status is a snapshot of the supervisor.
type Status struct {
	Mode  string
	State State
	PID   int
	// Generation counts the times go2rtc became ready. A new value means a new
	// go2rtc process whose streams came from the file, not from us: reconcile.
	Generation uint64
	Restarts   int
	Version    string
	LastError  string
	Since      time.Time
}

// Ready reports whether go2rtc answers its API.
func (s Status) Ready() bool { return s.State == StateRunning }

// SupervisorOptions tune the supervisor. Zero values take the defaults noted.
type SupervisorOptions struct {
	Settings Settings
	// Streams gives the streams to write into go2rtc.yaml at each (re)start; nil writes none.
	Streams func(ctx context.Context) ([]Stream, error)
	Logger  *slog.Logger
	// HealthInterval between API checks (5 s).
	HealthInterval time.Duration
	// HealthFailures in a row that make us restart a managed go2rtc, or
	// call an external one down when its API is silent rather than
	// refusing connections (3).
	HealthFailures int
	// ReadyTimeout for a fresh process to answer its API (15 s).
	ReadyTimeout time.Duration
	// Backoff bounds the wait before a restart (500 ms to 30 s); it doubles
	// with every start that did not stay up for StableAfter (60 s).
	Backoff     backoff.Backoff
	StableAfter time.Duration
	// RestartBudget restarts within BudgetWindow (5 in 10 min); beyond it the
	// supervisor gives up (StateFailed) until RetryAfterFailed (10 min) passes.
	RestartBudget    int
	BudgetWindow     time.Duration
	RetryAfterFailed time.Duration
	// StopTimeout between SIGTERM and SIGKILL at shutdown (5 s).
	StopTimeout time.Duration
}

func (o *SupervisorOptions) defaults() {
	d := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	d(&o.HealthInterval, 5*time.Second)
	d(&o.ReadyTimeout, 15*time.Second)
	o.Backoff = o.Backoff.Or(backoff.Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second})
	d(&o.StableAfter, time.Minute)
	d(&o.BudgetWindow, 10*time.Minute)
	d(&o.RetryAfterFailed, 10*time.Minute)
	d(&o.StopTimeout, 5*time.Second)
	if o.HealthFailures <= 0 {
		o.HealthFailures = 3
	}
	if o.RestartBudget <= 0 {
		o.RestartBudget = 5
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Supervisor runs go2rtc (managed mode) or watches it (external mode).
type Supervisor struct {
	opts   SupervisorOptions
	log    *slog.Logger
	client *Client

	mu      sync.Mutex
	status  Status
	subs    []func(Status)
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
	changed chan struct{} // closed and replaced at every status change
	restart chan struct{} // Restart's requests
	// overrideMu serialises changes of the override files.
	overrideMu sync.Mutex
}

// NewSupervisor checks the settings and prepares a supervisor; Start runs it.
func NewSupervisor(opts SupervisorOptions) (*Supervisor, error) {
	opts.defaults()
	if err := opts.Settings.Validate(); err != nil {
		return nil, err
	}
	s := &Supervisor{
		opts:    opts,
		log:     opts.Logger.With("component", "go2rtc"),
		changed: make(chan struct{}),
		restart: make(chan struct{}, 1),
	}
	if err := s.initCredentials(); err != nil {
		return nil, err
	}
	s.client = NewClientWithAuth(opts.Settings.APIURL(), s.Credentials)
	s.status = Status{Mode: opts.Settings.mode(), State: StateStopped, Since: time.Now()}
	return s, nil
}

// initCredentials picks the credentials go2rtc is locked with. A managed go2rtc
// gets a fresh random password per lightnvr run (kept across go2rtc restarts, so
// a pipeline reconnecting with its URL still fits); an external one uses what
// its init script wrote into CredentialsFile.
func (s *Supervisor) initCredentials() error {
	set := &s.opts.Settings
	if !set.Credentials.IsZero() {
		return nil
	}
	if set.mode() == ModeExternal {
		c, err := LoadCredentials(set.ConfigDir)
		if err != nil {
			// go2rtc may not have started yet; reloadCredentials tries again on a 401.
			s.log.Warn("go2rtc credentials", "err", err)
		}
		set.Credentials = c
		return nil
	}
	c, err := GenerateCredentials()
	if err != nil {
		return err
	}
	set.Credentials = c
	return nil
}

// reloadCredentials re-reads an external go2rtc's CredentialsFile after a 401:
// its init script writes a new password every time it starts go2rtc.
func (s *Supervisor) reloadCredentials() {
	c, err := LoadCredentials(s.opts.Settings.ConfigDir)
	if err != nil {
		s.log.Warn("go2rtc credentials", "err", err)
		return
	}
	s.mu.Lock()
	s.opts.Settings.Credentials = c
	s.mu.Unlock()
}

// Client is the API client for the supervised go2rtc.
func (s *Supervisor) Client() *Client { return s.client }

// Credentials are the ones go2rtc currently expects. They are secret: never
// log them or put them into an API answer.
func (s *Supervisor) Credentials() Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Settings.Credentials
}

// Settings are the settings the supervisor runs with, current credentials included.
func (s *Supervisor) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Settings
}

// Status returns the current status.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Subscribe registers fn to be called after every status change. fn runs on the
// supervisor's goroutine and must not block.
func (s *Supervisor) Subscribe(fn func(Status)) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	s.mu.Unlock()
}

func (s *Supervisor) update(fn func(*Status)) {
	s.mu.Lock()
	old := s.status
	fn(&s.status)
	if s.status.State != old.State {
		s.status.Since = time.Now()
	}
	st := s.status
	subs := append([]func(Status){}, s.subs...)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if st.State != old.State {
		attrs := []any{"state", st.State, "generation", st.Generation}
		if st.PID != 0 {
			attrs = append(attrs, "pid", st.PID)
		}
		if st.LastError != "" && st.State != StateRunning {
			attrs = append(attrs, "reason", st.LastError)
		}
		lvl := slog.LevelInfo
		if st.State == StateFailed || st.State == StateDown {
			lvl = slog.LevelWarn
		}
		s.log.Log(context.Background(), lvl, "go2rtc "+string(st.State), attrs...)
	}
	for _, fn := range subs {
		fn(st)
	}
}

// WaitReady blocks until go2rtc answers its API, the supervisor gives up, or ctx ends.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		st, ch := s.status, s.changed
		s.mu.Unlock()
		switch st.State {
		case StateRunning:
			return nil
		case StateFailed:
			return fmt.Errorf("go2rtc failed: %s", st.LastError)
		}
		select {
		case <-ctx.Done():
			if st.LastError != "" {
				return fmt.Errorf("wait for go2rtc (%s, last error: %s): %w", st.State, st.LastError, ctx.Err())
			}
			return fmt.Errorf("wait for go2rtc (%s): %w", st.State, ctx.Err())
		case <-ch:
		}
	}
}

// Start launches the supervision loop; it returns at once. A go2rtc that fails
// to start is retried in the background: the daemon keeps running either way.
func (s *Supervisor) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("go2rtc supervisor already started")
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if s.opts.Settings.mode() == ModeExternal {
			s.watchExternal(ctx)
		} else {
			s.runManaged(ctx)
		}
	}()
	return nil
}

// Stop ends supervision; in managed mode it terminates go2rtc's process group
// (SIGTERM, then SIGKILL after StopTimeout). It is the last thing to stop.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		s.client.CloseIdle()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop go2rtc: %w", ctx.Err())
	}
}

func (s *Supervisor) healthy(ctx context.Context) (Info, error) {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.client.Info(hctx)
}

func (s *Supervisor) watchExternal(ctx context.Context) {
	s.update(func(st *Status) { st.State = StateStarting })
	slow := 0 // checks in a row that ran out of time
	for {
		info, err := s.healthy(ctx)
		if IsUnauthorized(err) && s.opts.Settings.ConfigDir != "" {
			s.reloadCredentials()
			info, err = s.healthy(ctx)
		}
		if ctx.Err() != nil {
			s.update(func(st *Status) { st.State = StateStopped })
			return
		}
		cur := s.Status()
		if err == nil {
			slow = 0
		} else if errors.Is(err, context.DeadlineExceeded) {
			slow++
		}
		switch {
		case err == nil && cur.State != StateRunning:
			s.client.CloseIdle()
			s.update(func(st *Status) {
				st.State, st.Version, st.LastError = StateRunning, info.Version, ""
				st.Generation++
			})
		case err != nil && cur.State == StateRunning && slow > 0 && slow < s.opts.HealthFailures:
			// An answer late on a busy box is not go2rtc gone: going down
			// and up again would bump the generation, and every stream
			// would be registered again. A refused connection is down at
			// once; a silent API after HealthFailures checks in a row.
			s.log.Warn("go2rtc health check failed", "failures", slow, "err", err)
		case err != nil && cur.State != StateDown:
			s.update(func(st *Status) { st.State, st.LastError = StateDown, err.Error() })
		}
		wait := s.opts.HealthInterval
		if err != nil {
			wait = min(wait, time.Second)
		}
		if !s.pause(ctx, wait) {
			return
		}
	}
}

// pause waits d; it returns false, with the supervisor stopped, when ctx ends first.
func (s *Supervisor) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		s.update(func(st *Status) { st.State = StateStopped })
		return false
	case <-t.C:
		return true
	}
}

func (s *Supervisor) runManaged(ctx context.Context) {
	var recent []time.Time // starts inside the budget window
	wait := s.opts.Backoff
	for {
		now := time.Now()
		kept := recent[:0]
		for _, t := range recent {
			if now.Sub(t) < s.opts.BudgetWindow {
				kept = append(kept, t)
			}
		}
		recent = kept
		if len(recent) > s.opts.RestartBudget {
			last := s.Status().LastError
			s.update(func(st *Status) {
				st.State, st.PID = StateFailed, 0
				st.LastError = fmt.Sprintf("restart budget exhausted: go2rtc failed %d times within %s; last error: %s",
					len(recent), s.opts.BudgetWindow, last)
			})
			if !s.pause(ctx, s.opts.RetryAfterFailed) {
				return
			}
			recent = nil
			wait.Reset()
		}
		recent = append(recent, time.Now())
		if len(recent) > 1 {
			s.update(func(st *Status) { st.Restarts++ })
		}
		started := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			s.update(func(st *Status) { st.State, st.PID = StateStopped, 0 })
			return
		}
		if errors.Is(err, errRestart) {
			// Asked for, not a failure: no backoff, no restart budget.
			recent = recent[:len(recent)-1]
			s.update(func(st *Status) { st.State, st.PID = StateRestarting, 0 })
			continue
		}
		if time.Since(started) >= s.opts.StableAfter {
			wait.Reset()
			recent = recent[:0]
		}
		s.update(func(st *Status) {
			st.State, st.PID = StateRestarting, 0
			st.LastError = err.Error()
		})
		if !s.pause(ctx, wait.Next()) {
			return
		}
	}
}

// runOnce starts one go2rtc process and returns why it ended. It only returns
// nil-free errors; on ctx end it stops the process and returns ctx's error.
func (s *Supervisor) runOnce(ctx context.Context) error {
	set := s.Settings()
	var streams []Stream
	if s.opts.Streams != nil {
		var err error
		if streams, err = s.opts.Streams(ctx); err != nil {
			// Start without them: reconcile adds them once the database answers.
			s.log.Warn("go2rtc start: list streams for config", "err", err)
			streams = nil
		}
	}
	paths, err := WriteConfig(set, streams)
	if err != nil {
		return err
	}
	for _, p := range []int{set.APIPort, set.RTSPPort} {
		if err := portFree(p); err != nil {
			return fmt.Errorf("cannot start go2rtc: %w (another go2rtc running? use [go2rtc] mode=external to adopt it)", err)
		}
	}
	args := make([]string, 0, 2*len(paths))
	for _, p := range paths {
		args = append(args, "-config", p)
	}
	bin := set.BinaryPath
	if strings.ContainsRune(bin, '/') && !filepath.IsAbs(bin) {
		// The documented meaning of a relative binary_path is "relative to where
		// lightnvr runs"; exec would resolve it against cmd.Dir instead.
		if abs, err := filepath.Abs(bin); err == nil {
			bin = abs
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = set.ConfigDir
	cmd.Env = append(os.Environ(), set.Env...)
	// Own process group: at shutdown we signal go2rtc and the ffmpeg
	// processes it spawned at once. Pdeathsig: if we die, go2rtc dies with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := newLineLogger(s.log)
	cmd.Stdout, cmd.Stderr = out, out
	// Children of go2rtc may keep our pipe open after it died.
	cmd.WaitDelay = 2 * time.Second
	s.update(func(st *Status) { st.State, st.PID = StateStarting, 0 })
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start go2rtc %s: %w", set.BinaryPath, err)
	}
	pid := cmd.Process.Pid
	s.update(func(st *Status) { st.PID = pid })
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		out.Flush()
		// Orphans of a crashed go2rtc (ffmpeg) would hold ports and cameras.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		exited <- err
	}()
	exitErr := func(err error) error {
		msg := "go2rtc exited"
		if err != nil {
			msg = "go2rtc exited: " + err.Error()
		}
		if last := out.Last(); last != "" {
			msg += " (last output: " + last + ")"
		}
		return errors.New(msg)
	}

	up := false // go2rtc came up in this run
	// until waits for c; it returns why the run ends when that comes first.
	until := func(c <-chan time.Time) error {
		select {
		case <-ctx.Done():
			s.terminate(pid, exited, out)
			return ctx.Err()
		case err := <-exited:
			return s.refused(exitErr(err), up)
		case <-s.restart:
			s.terminate(pid, exited, out)
			return errRestart
		case <-c:
			return nil
		}
	}

	// Wait for the API to answer.
	readyBy := time.Now().Add(s.opts.ReadyTimeout)
	var info Info
	for {
		info, err = s.healthy(ctx)
		if err == nil {
			break
		}
		if err := until(time.After(100 * time.Millisecond)); err != nil {
			return err
		}
		if time.Now().After(readyBy) {
			s.terminate(pid, exited, out)
			return s.refused(fmt.Errorf("go2rtc API did not answer within %s: %v", s.opts.ReadyTimeout, err), false)
		}
	}
	if e := out.ConfigError(); e != "" && s.quarantine(e) {
		s.terminate(pid, exited, out)
		return errRestart
	}
	up = true
	s.client.CloseIdle()
	s.update(func(st *Status) {
		st.State, st.Version, st.LastError = StateRunning, info.Version, ""
		st.Generation++
	})

	fails := 0
	tick := time.NewTicker(s.opts.HealthInterval)
	defer tick.Stop()
	for {
		if err := until(tick.C); err != nil {
			return err
		}
		if _, err := s.healthy(ctx); err != nil {
			fails++
			s.log.Warn("go2rtc health check failed", "failures", fails, "err", err)
			if fails >= s.opts.HealthFailures {
				s.terminate(pid, exited, out)
				return fmt.Errorf("go2rtc API failed %d health checks in a row: %v", fails, err)
			}
			continue
		}
		fails = 0
	}
}

// refused handles a run that ended before go2rtc came up: with an override
// file in place, go2rtc refused it, so it is quarantined and the next run
// starts at once. up tells whether go2rtc had come up in this run.
func (s *Supervisor) refused(err error, up bool) error {
	if !up && s.quarantine(err.Error()) {
		return errRestart
	}
	return err
}

// terminate stops go2rtc's process group: SIGTERM, then SIGKILL after StopTimeout.
func (s *Supervisor) terminate(pid int, exited <-chan error, out *lineLogger) {
	out.stopping.Store(true)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(s.opts.StopTimeout):
	}
	s.log.Warn("go2rtc ignored SIGTERM; killing its process group", "pid", pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
}

func portFree(port int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("port %d is in use", port)
	}
	return ln.Close()
}
