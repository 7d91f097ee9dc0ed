package main

import (
	"context"
	"errors"
	"time"

	"lightnvr/pkg/lifecycle"
	"lightnvr/pkg/notify"
	"lightnvr/pkg/storage"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/version"
)

// newMQTT builds the MQTT publisher before the parts it reports on, so the
// storage controller's first pressure level already reaches it. It exists
// even while [mqtt] is disabled: enabling it in the settings connects
// without a restart.
func (d *daemon) newMQTT() *notify.MQTT {
	return notify.NewMQTT(notify.MQTTOptions{
		Config:  d.cfg.MQTT,
		Bus:     d.events,
		Logger:  d.log,
		Version: version.Version,
		Frame: func(ctx context.Context, stream string) ([]byte, error) {
			if d.go2rtc == nil {
				return nil, errors.New("go2rtc is disabled")
			}
			return d.go2rtc.Client().Frame(ctx, stream)
		},
	})
}

// statePoll is how often the streams' online and recording state is read
// for the notifiers.
const statePoll = 2 * time.Second

// startMQTT runs the publisher, and the one watch of the streams' state that
// feeds it and the webhooks, once the streams exist. Both only read, so they
// stop with the API; MQTT says offline on the way.
func (d *daemon) startMQTT() {
	d.mqtt.Start(context.Background())
	d.shutdown.Register("mqtt", lifecycle.PriorityAPI, 5*time.Second, d.mqtt.Stop)
	d.runUntilStop("stream state", lifecycle.PriorityAPI, time.Second, func(ctx context.Context) {
		notify.WatchStreams(ctx, statePoll, d.mqtt.StreamsWanted(), d.streamStates, d.mqtt, d.webhooks)
	})
}

// streamStates is each stream's online and recording state for the notifiers.
func (d *daemon) streamStates() []notify.StreamState {
	if d.streams == nil {
		return nil
	}
	var out []notify.StreamState
	for _, st := range d.streams.Statuses() {
		s := notify.StreamState{Name: st.Name, Online: st.State == streams.StateActive}
		if d.recording != nil {
			if ps, ok := d.recording.Stats(st.Name); ok {
				s.Recording = ps.RecorderState == "recording" || ps.EventState == "recording" || ps.EventState == "post-buffer"
			}
		}
		out = append(out, s)
	}
	return out
}

// pressureChanged hands the storage controller's level changes to MQTT.
func (d *daemon) pressureChanged(c storage.LevelChange) {
	d.mqtt.Pressure(notify.Pressure{Previous: c.Previous.String(), Current: c.Current.String(),
		FreePct: c.Space.FreePct(), FreeMB: c.Space.Free >> 20, TotalMB: c.Space.Total >> 20})
}
