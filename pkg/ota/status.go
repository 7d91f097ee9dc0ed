package ota

import (
	"fmt"
	"strconv"
)

// Status is what the UI and diag show about the A/B slots.
type Status struct {
	Running   string            `json:"running_slot"`
	BootSlot  string            `json:"boot_slot"`
	Versions  map[string]string `json:"versions"`
	Pending   bool              `json:"upgrade_available"`
	BootCount int               `json:"bootcount"`
	BootLimit int               `json:"bootlimit"`
	// Result is the outcome of the last install: "", "reboot-pending",
	// "trial" (booted, not yet marked good), "good" or "rolled-back".
	Result string `json:"result"`
	// ResultVersion is the version Result is about.
	ResultVersion string `json:"result_version,omitempty"`
}

// Status reads the env and derives the slots' state.
func (s *System) Status() (*Status, error) {
	env, err := s.Env.Read()
	if err != nil {
		return nil, err
	}
	running, _ := s.RunningSlot(env)
	st := &Status{
		Running:  running,
		BootSlot: env.Get(varBootSlot),
		Versions: map[string]string{"a": env.Get(varVersion + "a"), "b": env.Get(varVersion + "b")},
		Pending:  env.Get(varUpgrade) == "1",
	}
	st.BootCount, _ = strconv.Atoi(env.Get(varBootCount))
	st.BootLimit, _ = strconv.Atoi(env.Get(varBootLimit))
	if t := env.Get(varTarget); t != "" {
		st.ResultVersion = st.Versions[t]
		st.Result = result(t, st)
	}
	return st, nil
}

func result(target string, st *Status) string {
	switch {
	case st.Running == target && st.Pending:
		return "trial"
	case st.Running == target:
		return "good"
	case st.Pending && st.BootSlot == target:
		return "reboot-pending"
	}
	// The installed slot was left: U-Boot's altbootcmd switched back.
	return "rolled-back"
}

// MarkGood confirms the running slot once the daemon has been healthy for its
// window: it clears upgrade_available and bootcount so U-Boot stops counting.
// It writes the env only while an update is on trial, and reports whether it did.
func (s *System) MarkGood() (bool, error) {
	env, err := s.Env.Read()
	if err != nil {
		return false, err
	}
	if _, ok := s.onTrial(env); !ok {
		return false, nil
	}
	return true, s.Env.Update(map[string]string{varUpgrade: "0", varBootCount: "0"})
}

// onTrial is the running slot when it is an update U-Boot is counting boots
// of. Only the kernel command line proves the new slot was booted: without
// it, an update installed but not yet booted must not be confirmed.
func (s *System) onTrial(env *Env) (string, bool) {
	running, known := s.RunningSlot(env)
	return running, known && env.Get(varUpgrade) == "1" && env.Get(varBootSlot) == running
}

// Summary is the status in one line, for the console and diag.
func Summary(st *Status) string {
	s := fmt.Sprintf("running %s; a=%s b=%s; next boot %s", st.Running, orUnknown(st.Versions["a"]), orUnknown(st.Versions["b"]), st.BootSlot)
	if st.Pending {
		s += fmt.Sprintf("; on trial, bootcount %d of %d", st.BootCount, st.BootLimit)
	}
	if st.Result != "" {
		s += fmt.Sprintf("; last update %s %s", st.ResultVersion, st.Result)
	}
	return s
}

func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}
