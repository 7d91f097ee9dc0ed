package lifecycle

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// DaemonEnv marks the re-executed child of Daemonize.
const DaemonEnv = "LIGHTNVR_DAEMON_CHILD"

// Daemonize implements `-d`. A Go program cannot fork, so instead of the
// classic double fork the parent re-executes its own binary with args
// (normally os.Args[1:], `-d` included: the child sees DaemonEnv and
// returns at once) in a new session (setsid: no controlling terminal, not
// killed with the shell's process group), stdin on /dev/null and
// stdout/stderr appended to logFile (or /dev/null if ""), so that panics
// and runtime crash traces still land somewhere. The working directory is
// kept because relative config paths are resolved against it.
//
// In the parent it returns isChild=false once the child has been exec'd;
// the caller then exits 0. The parent does not learn whether the child
// starts up successfully; the child reports that in its log. In the child
// it returns isChild=true and removes DaemonEnv from the environment so
// programs it starts do not inherit it.
func Daemonize(args []string, logFile string) (isChild bool, err error) {
	if os.Getenv(DaemonEnv) == "1" {
		os.Unsetenv(DaemonEnv)
		return true, nil
	}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return false, fmt.Errorf("daemonize: %w", err)
	}
	defer devNull.Close()
	out := devNull
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return false, fmt.Errorf("daemonize: open log %s: %w", logFile, err)
		}
		defer f.Close()
		out = f
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), DaemonEnv+"=1")
	cmd.Stdin = devNull
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Start returns only after execve succeeded in the child.
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("daemonize: start %s: %w", exe, err)
	}
	if err := cmd.Process.Release(); err != nil {
		return false, fmt.Errorf("daemonize: release child: %w", err)
	}
	return false, nil
}
