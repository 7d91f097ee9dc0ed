package event

import (
	"testing"
	"time"
)

func TestBusDeliversToEverySubscriber(t *testing.T) {
	b := NewBus()
	a, c := b.Subscribe(4), b.Subscribe(4)
	defer a.Close()
	e := Event{Stream: "front", Time: time.Unix(1, 0), Source: SourceAPI}
	b.Publish(e)
	for _, s := range []*Subscription{a, c} {
		if got := <-s.C(); got.Stream != "front" || got.Source != SourceAPI {
			t.Fatalf("got %+v", got)
		}
	}
	c.Close()
	c.Close() // twice is fine
	if _, open := <-c.C(); open {
		t.Fatal("closed subscription still delivers")
	}
	b.Publish(e) // no panic on the closed one
	if got := <-a.C(); got.Stream != "front" {
		t.Fatalf("got %+v", got)
	}
}

// A subscriber that does not read never blocks the publisher: its losses
// are counted instead.
func TestBusSlowSubscriberLosesCounted(t *testing.T) {
	b := NewBus()
	slow := b.Subscribe(2)
	defer slow.Close()
	for range 5 {
		b.Publish(Event{Stream: "x"})
	}
	if slow.Dropped() != 3 || len(slow.C()) != 2 {
		t.Fatalf("dropped %d, buffered %d; want 3 and 2", slow.Dropped(), len(slow.C()))
	}
}
