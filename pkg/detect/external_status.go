package detect

import (
	"time"

	"lightnvr/pkg/logx"
)

// ExternalState is the health of a stream's external detector.
type ExternalState string

const (
	ExternalStarting ExternalState = "starting" // no round finished yet
	ExternalOK       ExternalState = "ok"       // the last round worked
	ExternalFailing  ExternalState = "failing"  // the last round failed; retried with backoff
)

// ExternalStatus is what the stream's health shows of its external detector.
type ExternalStatus struct {
	State ExternalState `json:"state"`
	// URL is the detector's endpoint without credentials.
	URL string `json:"url"`
	// LastError is the error of the last failed round, kept after recovery.
	LastError string `json:"last_error,omitempty"`
	// Failures counts failed rounds in a row; 0 once a round works.
	Failures int `json:"failures"`
	// TotalFailures counts every failed round since start.
	TotalFailures uint64    `json:"total_failures"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	// LastDetection is when a round last published an event.
	LastDetection time.Time `json:"last_detection,omitzero"`
	// Events counts the events published.
	Events uint64 `json:"events"`
}

// Status returns the detector's health now.
func (x *External) Status() ExternalStatus {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status
}

func (x *External) failed(err error) {
	x.mu.Lock()
	st := &x.status
	wasOK := st.State != ExternalFailing
	st.State = ExternalFailing
	st.LastError = logx.RedactURL(err.Error())
	st.Failures++
	st.TotalFailures++
	failures := st.Failures
	x.mu.Unlock()
	// Once per outage: a dead detector asked every few seconds would
	// otherwise fill the log.
	if wasOK {
		x.log.Warn("external detector failing; retrying with backoff", "err", err)
	} else {
		x.log.Debug("external detector still failing", "err", err, "failures", failures)
	}
}

func (x *External) succeeded(published int) {
	now := time.Now()
	x.mu.Lock()
	st := &x.status
	recovered := st.State == ExternalFailing
	failures := st.Failures
	st.State = ExternalOK
	st.Failures = 0
	st.LastSuccess = now
	if published > 0 {
		st.LastDetection = now
		st.Events++
	}
	x.mu.Unlock()
	if recovered {
		x.log.Info("external detector answering again", "after_failures", failures)
	}
}
