package ota

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

func onTrial(t *testing.T) *testSystem {
	key := newKey(t)
	s := newTestSystem(t, key)
	if _, err := s.Install(bytes.NewReader(s.bundle(t, key, Manifest{Release: Release{Version: "3.0"}}, map[string][]byte{"kernel": {7}}))); err != nil {
		t.Fatal(err)
	}
	s.boot("b")
	return s
}

func TestConfirmWhenHealthyMarksGood(t *testing.T) {
	s := onTrial(t)
	checks := 0
	s.ConfirmWhenHealthy(context.Background(), 5*time.Millisecond, time.Millisecond, func(context.Context) bool { checks++; return true }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	env, _ := s.Env.Read()
	if env.Get("upgrade_available") != "0" || checks < 2 {
		t.Fatalf("after a healthy window: upgrade_available=%q after %d checks", env.Get("upgrade_available"), checks)
	}
}

func TestConfirmWhenHealthyWaitsForHealth(t *testing.T) {
	s := onTrial(t)
	ctx, cancel := context.WithCancel(context.Background())
	checks := 0
	// Never healthy: the window never completes, whatever its length.
	s.ConfirmWhenHealthy(ctx, time.Nanosecond, time.Millisecond, func(context.Context) bool {
		checks++
		if checks == 20 {
			cancel()
		}
		return false
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	env, _ := s.Env.Read()
	if env.Get("upgrade_available") != "1" {
		t.Fatal("an unhealthy daemon marked its slot good")
	}
}
