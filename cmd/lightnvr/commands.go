package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/version"
)

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, version.String())
	return nil
}

func runMigrate(ctx context.Context, g globalOpts, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate [status|up]", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	action := "up"
	switch fs.NArg() {
	case 0:
	case 1:
		action = fs.Arg(0)
	default:
		fs.Usage()
		return errUsage
	}
	if action != "up" && action != "status" {
		fs.Usage()
		return errUsage
	}
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return err
	}
	conn, err := db.Open(ctx, cfg.Database.Path)
	if err != nil {
		return err
	}
	defer conn.Close()
	if action == "up" {
		applied, err := conn.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintf(stdout, "%s: up to date\n", cfg.Database.Path)
			return nil
		}
		for _, v := range applied {
			fmt.Fprintf(stdout, "applied %s\n", v)
		}
		return nil
	}
	st, err := conn.Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	pending := 0
	for _, m := range st {
		applied := "pending"
		if m.Applied {
			applied = m.AppliedAt.Local().Format(time.DateTime)
		} else {
			pending++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Version, m.Name, applied)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d migrations, %d pending\n", len(st), pending)
	return nil
}

func runConfig(ctx context.Context, g globalOpts, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", "config check | config dev-ini DATA_DIR", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 2 && fs.Arg(0) == "dev-ini" {
		// Used by `make run` to lay out a fresh development data directory.
		fmt.Fprint(stdout, config.DevINI(fs.Arg(1)))
		return nil
	}
	if fs.NArg() != 1 || fs.Arg(0) != "check" {
		fs.Usage()
		return errUsage
	}
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s: OK\n", configSource(cfg))
	fmt.Fprint(stdout, cfg.Redacted())
	return nil
}
