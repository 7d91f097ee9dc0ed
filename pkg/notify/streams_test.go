package notify

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// sink records what WatchStreams hands it; want says whether it wants.
type sink struct {
	want atomic.Bool
	mu   sync.Mutex
	got  [][]StreamChange
}

func (s *sink) WantsStreams() bool { return s.want.Load() }

func (s *sink) StreamsChanged(_ []string, changes []StreamChange) {
	s.mu.Lock()
	s.got = append(s.got, slices.Clone(changes))
	s.mu.Unlock()
}

// changes is every change handed over so far, polls joined.
func (s *sink) changes() []StreamChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Concat(s.got...)
}

// streamTable is the state WatchStreams reads, counting the reads.
type streamTable struct {
	mu    sync.Mutex
	now   []StreamState
	reads atomic.Int64
}

func (st *streamTable) read() []StreamState {
	st.reads.Add(1)
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.now)
}

func (st *streamTable) set(s ...StreamState) {
	st.mu.Lock()
	st.now = s
	st.mu.Unlock()
}

// Nobody wants the streams: they are not read at all. A sink that starts
// wanting gets every stream as new; one already wanting gets only what
// changed; when nobody wants again the reads stop.
func TestWatchStreamsReadsOnlyForWhoWants(t *testing.T) {
	table := &streamTable{}
	gate := StreamState{Name: "gate", Online: true}
	door := StreamState{Name: "door", Online: true, Recording: true}
	table.set(gate, door)
	a, b := &sink{}, &sink{}
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); WatchStreams(ctx, 10*time.Millisecond, wake, table.read, a, b) }()
	defer func() { cancel(); <-done }()

	// Thirty polls' time with nobody wanting, and a wake that changes nothing.
	time.Sleep(150 * time.Millisecond)
	poke()
	time.Sleep(150 * time.Millisecond)
	if n := table.reads.Load(); n != 0 {
		t.Fatalf("the streams were read %d times while no sink wanted them", n)
	}

	a.want.Store(true)
	poke()
	testkit.WaitFor(t, 10*time.Second, "a hears both streams", func() bool { return len(a.changes()) == 2 })
	for _, st := range []StreamState{gate, door} {
		if !slices.Contains(a.changes(), StreamChange{Current: st, First: true}) {
			t.Errorf("a did not get %s as new: %+v", st.Name, a.changes())
		}
	}

	// The gate goes offline; b starts wanting at about the same time.
	offline := StreamState{Name: "gate"}
	table.set(offline, door)
	b.want.Store(true)
	poke()
	testkit.WaitFor(t, 10*time.Second, "a hears the gate go offline", func() bool { return len(a.changes()) == 3 })
	if got := a.changes()[2]; got != (StreamChange{Previous: gate, Current: offline}) {
		t.Errorf("a's third change %+v, want gate online → offline", got)
	}
	testkit.WaitFor(t, 10*time.Second, "b hears both streams", func() bool { return len(b.changes()) >= 2 })
	for _, st := range []StreamState{offline, door} {
		if !slices.Contains(b.changes(), StreamChange{Current: st, First: true}) {
			t.Errorf("b did not get %s as it is now: %+v", st.Name, b.changes())
		}
	}

	// Nobody wants again: the reads stop.
	a.want.Store(false)
	b.want.Store(false)
	poke()
	time.Sleep(100 * time.Millisecond)
	n := table.reads.Load()
	time.Sleep(200 * time.Millisecond)
	if m := table.reads.Load(); m != n {
		t.Errorf("%d reads after nobody wanted the streams", m-n)
	}
	if n := len(b.changes()); n != 2 {
		t.Errorf("b got %d changes, want its 2 first ones only: %+v", n, b.changes())
	}
}

// MQTT enabled in the settings while the daemon runs: the broker gets
// every stream's state as it is, not only later changes, and while it was
// disabled the streams were never read.
func TestEnablingMQTTPublishesStreamStates(t *testing.T) {
	b := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	sub := subscribe(t, b, "watcher")
	table := &streamTable{}
	table.set(StreamState{Name: "front door", Online: true, Recording: true}, StreamState{Name: "yard"})
	cfg := brokerConfig(b)
	cfg.Enabled = false
	m := startMQTT(t, MQTTOptions{Config: cfg, Streams: table.read, Poll: 50 * time.Millisecond})
	waitState(t, m, BrokerDisabled)
	time.Sleep(300 * time.Millisecond)
	if n := table.reads.Load(); n != 0 {
		t.Errorf("the streams were read %d times while MQTT was disabled", n)
	}

	cfg.Enabled = true
	m.Reconfigure(cfg)
	waitState(t, m, BrokerConnected)
	for topic, want := range map[string]string{
		"lightnvr/cameras/front_door/status": "online", "lightnvr/cameras/front_door/recording": "ON",
		"lightnvr/cameras/yard/status": "offline", "lightnvr/cameras/yard/recording": "OFF"} {
		if got := string(sub.wait(t, topic, 1)[0].Payload()); got != want {
			t.Errorf("%s = %q, want %q", topic, got, want)
		}
	}
}
