package notify

import (
	"context"

	"lightnvr/pkg/event"
)

// busBuffer is how many events a notifier's subscription holds while its
// goroutine turns the previous one into messages. The work per event is a
// few allocations, so the bus drops only in a burst far beyond any detector.
const busBuffer = 256

// follow subscribes to bus at once, with room for buf events, so nothing
// published after follow returns is missed. run hands each event to handle,
// in order, until ctx ends; it runs on the caller's goroutine, and handle
// must not wait on the network.
func follow(ctx context.Context, bus *event.Bus, buf int, handle func(event.Event)) (sub *event.Subscription, run func()) {
	sub = bus.Subscribe(buf)
	return sub, func() {
		defer context.AfterFunc(ctx, sub.Close)()
		for e := range sub.C() {
			handle(e)
		}
	}
}
