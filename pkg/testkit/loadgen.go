package testkit

import (
	"testing"

	"lightnvr/pkg/media/loadgen"
)

// Loadgen starts an in-process synthetic camera farm serving the sample
// made for spec; cfg.Sample and cfg.Addr are filled in when empty. It is
// stopped when the test ends.
func Loadgen(t testing.TB, spec SampleSpec, cfg loadgen.Config) *loadgen.Server {
	t.Helper()
	if cfg.Sample == nil {
		smp, err := loadgen.LoadSample(Sample(t, spec))
		if err != nil {
			t.Fatalf("loadgen sample: %v", err)
		}
		cfg.Sample = smp
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	srv, err := loadgen.Start(cfg)
	if err != nil {
		t.Fatalf("loadgen: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}
