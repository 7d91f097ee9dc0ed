package notify

import (
	"context"
	"fmt"

	paho "github.com/eclipse/paho.mqtt.golang"

	"lightnvr/pkg/config"
)

// checkSuffix makes the check's client id differ from the publisher's: a
// broker drops the older of two connections with one id.
const checkSuffix = "-test"

// CheckMQTT tries cfg against its broker once, whether or not it is
// enabled: it connects, publishes to <prefix>/test and disconnects, within
// ctx. It returns what it did, or why the broker or the network said no.
func CheckMQTT(ctx context.Context, cfg config.MQTTConfig) (string, error) {
	opts, err := clientOptions(cfg)
	if err != nil {
		return "", err
	}
	opts.SetClientID(cfg.ClientID + checkSuffix)
	// A check that dies halfway must not tell everyone the NVR is offline.
	opts.WillEnabled = false
	c := paho.NewClient(opts)
	if err := waitCtx(ctx, c.Connect()); err != nil {
		return "", fmt.Errorf("connect to %s: %w", brokerAddr(cfg), err)
	}
	defer c.Disconnect(250)
	topic := cfg.TopicPrefix + "/test"
	if err := waitCtx(ctx, c.Publish(topic, byte(cfg.QoS), false, "LightNVR MQTT test")); err != nil {
		return "", fmt.Errorf("publish to %s on %s: %w", topic, brokerAddr(cfg), err)
	}
	return fmt.Sprintf("Connected to %s and published to %s", brokerAddr(cfg), topic), nil
}

// waitCtx waits for tok until ctx ends and returns its error.
func waitCtx(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}
