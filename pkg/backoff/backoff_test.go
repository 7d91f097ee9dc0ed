package backoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
)

func TestNextDoublesUpToMaxAndResets(t *testing.T) {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("wait %d: %s, want %s", i, got, w*time.Millisecond)
		}
	}
	b.Reset()
	if got := b.Next(); got != 100*time.Millisecond {
		t.Fatalf("after Reset: %s, want the minimum", got)
	}
}

func TestOrFillsUnsetBounds(t *testing.T) {
	def := backoff.Backoff{Min: time.Second, Max: time.Minute}
	cases := []struct {
		in, want backoff.Backoff
	}{
		{backoff.Backoff{}, def},
		{backoff.Backoff{Min: 10 * time.Millisecond}, backoff.Backoff{Min: 10 * time.Millisecond, Max: time.Minute}},
		// A maximum below the minimum never shortens the first wait.
		{backoff.Backoff{Min: 2 * time.Minute}, backoff.Backoff{Min: 2 * time.Minute, Max: 2 * time.Minute}},
	}
	for _, c := range cases {
		got := c.in.Or(def)
		if got.Min != c.want.Min || got.Max != c.want.Max {
			t.Errorf("%+v.Or(%+v) = %+v, want %+v", c.in, def, got, c.want)
		}
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	b := backoff.Backoff{Min: time.Hour, Max: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context: %v", err)
	}
	b = backoff.Backoff{Min: time.Millisecond, Max: time.Millisecond}
	if err := b.Wait(context.Background()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}
