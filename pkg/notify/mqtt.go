package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/config"
	"lightnvr/pkg/event"
)

// Broker states of MQTTStatus.
const (
	BrokerDisabled     = "disabled"
	BrokerConnecting   = "connecting"
	BrokerConnected    = "connected"
	BrokerDisconnected = "disconnected"
)

const (
	// outboxBytes bounds the payload bytes kept while the broker is away
	// (snapshots are large): a board has little memory to spare.
	outboxBytes = 8 << 20
	// sendTimeout bounds the wait for one acknowledgement; past it the
	// connection is taken for dead and made again.
	sendTimeout    = 15 * time.Second
	connectTimeout = 10 * time.Second
)

// MQTTOptions configure an MQTT publisher. Zero values take the defaults noted.
type MQTTOptions struct {
	Config config.MQTTConfig
	Bus    *event.Bus
	Logger *slog.Logger
	// Frame returns a stream's current JPEG, for ha_snapshot_interval; nil: none.
	Frame func(ctx context.Context, stream string) ([]byte, error)
	// Streams reports every stream's state; it is polled while publishing
	// is enabled. nil: none, or the caller runs WatchStreams with this
	// publisher as a sink and StreamsWanted as its wake.
	Streams func() []StreamState
	// Quiet is how long without detections turns motion OFF and ends a
	// Frigate event (30 s, LightNVR's and Frigate's delay).
	Quiet time.Duration
	// Poll is how often Streams is read (2 s).
	Poll time.Duration
	// Backoff spaces reconnect attempts (1 s doubling to 30 s).
	Backoff backoff.Backoff
	// Version is the software version in Home Assistant's discovery.
	Version string
}

// MQTTStatus is the broker connection as /api/health and diag show it.
type MQTTStatus struct {
	State  string    `json:"state"`
	Broker string    `json:"broker,omitempty"`
	Error  string    `json:"error,omitempty"`
	Since  time.Time `json:"since"`
	// Outbox is how many messages wait for the broker; Dropped how many
	// were lost past the bound since start.
	Outbox  int    `json:"outbox"`
	Dropped uint64 `json:"dropped"`
}

// MQTT publishes the bus's events and the daemon's state to a broker.
type MQTT struct {
	opts MQTTOptions
	log  *slog.Logger
	out  *queue[message]

	mu     sync.Mutex
	cfg    config.MQTTConfig
	status MQTTStatus
	known  []string // streams seen by the last poll

	reconf chan struct{}
	wants  chan struct{} // the settings changed: WantsStreams may have too
	opened chan struct{} // a motion or object was opened: the sweep has work
	quiet  *quietTracker
	frig   *frigate
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewMQTT returns a publisher; Start connects it.
func NewMQTT(opts MQTTOptions) *MQTT {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Quiet <= 0 {
		opts.Quiet = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	opts.Backoff = opts.Backoff.Or(backoff.Backoff{Min: time.Second, Max: 30 * time.Second})
	size := opts.Config.OutboxSize
	if size <= 0 {
		size = config.Default().MQTT.OutboxSize
	}
	m := &MQTT{opts: opts, log: opts.Logger.With("component", "mqtt"), out: newQueue(size, outboxBytes, messageSize),
		cfg: opts.Config, reconf: make(chan struct{}, 1), wants: make(chan struct{}, 1), opened: make(chan struct{}, 1), quiet: newQuietTracker(), frig: newFrigate()}
	m.status = MQTTStatus{State: BrokerDisabled, Since: time.Now()}
	return m
}

// Start subscribes to the bus and connects in the background: a broker that
// is away is retried with backoff, never waited for here.
func (m *MQTT) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	run := func(f func(context.Context)) {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); f(ctx) }()
	}
	_, events := follow(ctx, m.opts.Bus, busBuffer, m.handleEvent)
	run(func(context.Context) { events() })
	run(m.session)
	if m.opts.Streams != nil {
		run(func(ctx context.Context) { WatchStreams(ctx, m.opts.Poll, m.wants, m.opts.Streams, m) })
	}
	run(m.sweep)
	run(m.snapshots)
}

// Stop says offline to the broker and ends every goroutine within ctx.
func (m *MQTT) Stop(ctx context.Context) error {
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt: stop: %w", ctx.Err())
	}
}

// Reconfigure takes new [mqtt] settings: the connection is made again with
// them (or closed when disabled), queued messages kept.
func (m *MQTT) Reconfigure(cfg config.MQTTConfig) {
	m.mu.Lock()
	m.cfg = cfg
	m.mu.Unlock()
	if cfg.OutboxSize > 0 {
		m.out.resize(cfg.OutboxSize)
	}
	for _, ch := range []chan struct{}{m.reconf, m.wants} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// StreamsWanted is told when the settings change, so a WatchStreams that
// feeds this publisher looks at WantsStreams again.
func (m *MQTT) StreamsWanted() <-chan struct{} { return m.wants }

// WantsStreams is true while publishing is enabled. It is a StreamSink.
func (m *MQTT) WantsStreams() bool { return m.config().Enabled }

// Status is the broker connection and the outbox now.
func (m *MQTT) Status() MQTTStatus {
	m.mu.Lock()
	s := m.status
	m.mu.Unlock()
	s.Outbox, s.Dropped = m.out.counts()
	return s
}

func (m *MQTT) config() config.MQTTConfig {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

func (m *MQTT) setStatus(state string, cfg config.MQTTConfig, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := MQTTStatus{State: state, Since: m.status.Since}
	if state != BrokerDisabled {
		s.Broker = brokerAddr(cfg)
	}
	if err != nil {
		s.Error = err.Error()
	}
	if state != m.status.State {
		s.Since = time.Now()
	}
	m.status = s
}

func brokerAddr(cfg config.MQTTConfig) string {
	return net.JoinHostPort(cfg.BrokerHost, strconv.Itoa(cfg.BrokerPort))
}

// session connects, sends the outbox and reconnects with backoff until ctx ends.
func (m *MQTT) session(ctx context.Context) {
	b := m.opts.Backoff
	for ctx.Err() == nil {
		cfg := m.config()
		if !cfg.Enabled {
			m.setStatus(BrokerDisabled, cfg, nil)
			if !m.waitReconf(ctx, nil) {
				return
			}
			continue
		}
		m.setStatus(BrokerConnecting, cfg, nil)
		c, lost, err := m.connect(cfg)
		if err != nil {
			m.setStatus(BrokerDisconnected, cfg, err)
			m.log.Warn("mqtt broker unreachable", "broker", brokerAddr(cfg), "err", err)
			if !m.waitReconf(ctx, &b) {
				return
			}
			continue
		}
		b.Reset()
		m.setStatus(BrokerConnected, cfg, nil)
		m.log.Info("mqtt connected", "broker", brokerAddr(cfg))
		err = m.deliver(ctx, c, cfg, lost)
		m.hangUp(c, cfg, ctx.Err() != nil)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.setStatus(BrokerDisconnected, cfg, err)
			m.log.Warn("mqtt connection lost", "broker", brokerAddr(cfg), "err", err)
			if !m.waitReconf(ctx, &b) {
				return
			}
		}
	}
}

// waitReconf waits for new settings, or for the backoff when b is set. It
// reports false when ctx ended.
func (m *MQTT) waitReconf(ctx context.Context, b *backoff.Backoff) bool {
	var timer <-chan time.Time
	if b != nil {
		t := time.NewTimer(b.Next())
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-m.reconf:
	case <-timer:
	}
	return true
}

// connect dials the broker and announces this client online.
func (m *MQTT) connect(cfg config.MQTTConfig) (paho.Client, <-chan error, error) {
	opts, err := clientOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	lost := make(chan error, 1)
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		select {
		case lost <- err:
		default:
		}
	})
	c := paho.NewClient(opts)
	if err := wait(c.Connect(), connectTimeout); err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", brokerAddr(cfg), err)
	}
	for _, msg := range m.onlineMessages(cfg) {
		if err := wait(c.Publish(msg.topic, msg.qos, msg.retain, msg.payload), sendTimeout); err != nil {
			c.Disconnect(0)
			return nil, nil, fmt.Errorf("announce online to %s: %w", brokerAddr(cfg), err)
		}
	}
	if cfg.HADiscovery {
		// Home Assistant's birth message asks for discovery again after it restarts.
		c.Subscribe(cfg.HADiscoveryPrefix+"/status", 0, func(_ paho.Client, msg paho.Message) {
			if string(msg.Payload()) == "online" {
				m.discoverAll(cfg)
			}
		})
		m.discoverAll(cfg)
	}
	return c, lost, nil
}

func clientOptions(cfg config.MQTTConfig) (*paho.ClientOptions, error) {
	scheme := "tcp://"
	opts := paho.NewClientOptions()
	if cfg.TLSEnabled {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		scheme = "ssl://"
		opts.SetTLSConfig(tc)
	}
	opts.AddBroker(scheme + brokerAddr(cfg))
	opts.SetClientID(cfg.ClientID)
	opts.SetUsername(cfg.Username)
	opts.SetPassword(cfg.Password)
	opts.SetKeepAlive(time.Duration(cfg.Keepalive) * time.Second)
	opts.SetConnectTimeout(connectTimeout)
	// Reconnecting is ours (with backoff, and the outbox survives it).
	opts.SetAutoReconnect(false)
	opts.SetConnectRetry(false)
	opts.SetCleanSession(true)
	opts.SetWill(statusTopic(cfg), "offline", byte(cfg.QoS), true)
	return opts, nil
}

// tlsConfig trusts tls_ca_file (else the system's CAs) and presents the
// client certificate when one is set.
func tlsConfig(cfg config.MQTTConfig) (*tls.Config, error) {
	tc := &tls.Config{ServerName: cfg.BrokerHost, MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("[mqtt] tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("[mqtt] tls_ca_file %s holds no PEM certificate", cfg.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("[mqtt] tls_cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// deliver sends the outbox oldest first, each message acknowledged before
// the next, until ctx ends or the connection fails.
func (m *MQTT) deliver(ctx context.Context, c paho.Client, cfg config.MQTTConfig, lost <-chan error) error {
	for {
		it, ok := m.out.peek()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case err := <-lost:
				return err
			case <-m.reconf:
				return nil
			case <-m.out.ready:
			}
			continue
		}
		msg := it.v
		tok := c.Publish(msg.topic, msg.qos, msg.retain, msg.payload)
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return err
		case <-tok.Done():
		case <-time.After(sendTimeout):
			return fmt.Errorf("publish to %s: no acknowledgement in %s", brokerAddr(cfg), sendTimeout)
		}
		if err := tok.Error(); err != nil {
			return fmt.Errorf("publish %s: %w", msg.topic, err)
		}
		m.out.pop(it)
	}
}

// hangUp says offline (on a clean stop) and closes the connection.
func (m *MQTT) hangUp(c paho.Client, cfg config.MQTTConfig, stopping bool) {
	if stopping && c.IsConnectionOpen() {
		for _, msg := range m.offlineMessages(cfg) {
			_ = wait(c.Publish(msg.topic, msg.qos, msg.retain, msg.payload), time.Second)
		}
	}
	c.Disconnect(250)
}

// wait waits for tok up to d and returns its error.
func wait(tok paho.Token, d time.Duration) error {
	if !tok.WaitTimeout(d) {
		return errors.New("timed out")
	}
	return tok.Error()
}
