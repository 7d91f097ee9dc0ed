// Command lightnvr is the network video recorder daemon and its console tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `usage: lightnvr [-c FILE] [-d] [command] [args]

Commands:
  serve              run the recorder (the default command)
  migrate [status|up] show or apply database migrations
  config check       load and validate the configuration, print the effective values
  user ...           manage users from the console (add, passwd, list, disable)
  diag [--json|--brief] print the diagnostics report for the serial console
  ota ...            verify, install and confirm signed firmware bundles
  version            print the version

Global flags:
  -c, --config FILE  configuration file (default: ./lightnvr.ini, /etc/lightnvr/lightnvr.ini,
                     ./config/lightnvr.ini, first found; none means built-in defaults)
  -d, --daemon       run serve in the background (detached, own session)

Run 'lightnvr COMMAND --help' for a command's flags.
`

// globalOpts are the flags that come before the command.
type globalOpts struct {
	configPath string
	daemon     bool
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors already explained by a usage message.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g, rest, err := parseGlobal(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		return 2
	}
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		err = runServe(ctx, g, rest, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, g, rest, stdout, stderr)
	case "config":
		err = runConfig(ctx, g, rest, stdout, stderr)
	case "version":
		err = runVersion(rest, stdout, stderr)
	case "user":
		err = runUserCmd(ctx, g, rest, stdout, stderr)
	case "diag":
		err = runDiag(ctx, g, rest, stdout, stderr)
	case "ota":
		err = runOTA(ctx, g, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "lightnvr: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "lightnvr %s: %v\n", cmd, err)
		return 1
	}
}

// exitCode ends lightnvr with a status its supervisor acts on, without a
// message: it is a request, not a failure.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

func parseGlobal(args []string, stderr io.Writer) (globalOpts, []string, error) {
	var g globalOpts
	fs := flag.NewFlagSet("lightnvr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	fs.StringVar(&g.configPath, "c", "", "configuration file")
	fs.StringVar(&g.configPath, "config", "", "configuration file")
	fs.BoolVar(&g.daemon, "d", false, "run in the background")
	fs.BoolVar(&g.daemon, "daemon", false, "run in the background")
	if err := fs.Parse(args); err != nil {
		return g, nil, err
	}
	return g, fs.Args(), nil
}

// commandHelp answers a command group called without a subcommand (usage,
// errUsage) or with help (usage, nil); handled false means run the subcommand.
func commandHelp(args []string, usage string, stdout io.Writer) (handled bool, err error) {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
		return false, nil
	}
	fmt.Fprint(stdout, usage)
	if len(args) == 0 {
		return true, errUsage
	}
	return true, nil
}

// newFlagSet gives each command a --help that prints its own usage line.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lightnvr "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lightnvr [-c FILE] %s\n", synopsis)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
		if b.Len() > 0 {
			fmt.Fprintf(stderr, "\nFlags:\n%s", b.String())
		}
	}
	return fs
}
