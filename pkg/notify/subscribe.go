package notify

import (
	"context"

	"lightnvr/pkg/event"
)

// busBuffer is how many events a notifier's subscription holds while its
// goroutine turns the previous one into messages. The work per event is a
// few allocations, so the bus drops only in a burst far beyond any detector.
const busBuffer = 256

// consume subscribes to bus and hands each event to handle, in order, until
// ctx ends. handle runs on one goroutine and must not wait on the network.
func consume(ctx context.Context, bus *event.Bus, handle func(event.Event)) {
	sub := bus.Subscribe(busBuffer)
	defer context.AfterFunc(ctx, sub.Close)()
	for e := range sub.C() {
		handle(e)
	}
}
