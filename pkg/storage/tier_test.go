package storage

import (
	"context"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// TestTierRetention: a recording's age limit is its stream's retention
// days, shortened by its tier's multiplier when that is below 1 (behaviour
// of LightNVR's two rules together); a zero multiplier takes the default.
func TestTierRetention(t *testing.T) {
	dir := plainDir(t)
	d := testkit.OpenDB(t, "")
	clk := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.Local))
	addStream(t, d, "half", 8, 4, 0)
	addStream(t, d, "zero", 8, 4, 0)
	if _, err := rawSQL(t, d).Exec(`UPDATE streams SET tier_ephemeral_multiplier = CASE name WHEN 'half' THEN 0.5 ELSE 0 END,
		tier_critical_multiplier = 3`); err != nil {
		t.Fatal(err)
	}
	days := func(n float64) time.Time { return clk.Now().Add(-time.Duration(n * float64(24*time.Hour))) }
	cases := []struct {
		stream  string
		age     float64
		tier    int
		trigger string
		keep    bool
		what    string
	}{
		{"half", 7, 2, "scheduled", true, "standard, younger than 8 days"},
		{"half", 9, 2, "scheduled", false, "standard, older than 8 days"},
		{"half", 9, 0, "scheduled", false, "critical: the stream's retention still applies"},
		{"half", 3.5, 3, "scheduled", true, "ephemeral ×0.5, younger than 4 days"},
		{"half", 4.5, 3, "scheduled", false, "ephemeral ×0.5, older than 4 days"},
		{"half", 1.5, 3, "detection", true, "ephemeral clip ×0.5 of 4 days, younger than 2"},
		{"half", 2.5, 3, "detection", false, "ephemeral clip ×0.5 of 4 days, older than 2"},
		{"half", 3.5, 1, "detection", true, "important clip within its 4 days"},
		{"zero", 1.5, 3, "scheduled", true, "ephemeral, multiplier 0 → 0.25 of 8: younger than 2 days"},
		{"zero", 2.5, 3, "scheduled", false, "ephemeral, multiplier 0 → 0.25 of 8: older than 2 days"},
	}
	ids := make([]int64, len(cases))
	for i, c := range cases {
		ids[i] = addRec(t, d, dir, c.stream, days(c.age), 1000, c.trigger)
		if _, err := rawSQL(t, d).Exec(`UPDATE recordings SET retention_tier = ? WHERE id = ?`, c.tier, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	c := newController(t, d, dir, func(cfg *Config) { cfg.Now = clk.Now; spaceIndifferent(cfg) })
	if _, err := c.RunPass(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, cs := range cases {
		if got := rowExists(t, d, ids[i]); got != cs.keep {
			t.Errorf("%s %.1f days (%s): kept=%v, want %v", cs.stream, cs.age, cs.what, got, cs.keep)
		}
	}
	checkConsistent(t, d, dir)
}
