package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
)

const userUsage = `usage: lightnvr [-c FILE] user COMMAND

Commands:
  list                              list users
  add NAME [-role R] [-email E] [-random]
                                    create a user (role admin, user, viewer or api; default user)
  passwd NAME [-random]             set a user's password (ends their sessions)
  disable NAME | enable NAME        lock a user out, or let them back in
  reset-mfa NAME                    turn TOTP off for a user who lost their authenticator
  unlock NAME                       forget NAME's failed logins (ends a login lockout at once,
                                    also while the daemon runs)

Passwords are read from the terminal (twice, not echoed) or one line from
standard input; -random generates one and prints it.
`

// runUserCmd is 'lightnvr user ...' for the serial console.
func runUserCmd(ctx context.Context, g globalOpts, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return err
	}
	return runUser(ctx, cfg, args, stdout, stderr)
}

// runUser runs a user command against cfg's database; passwords come from
// standard input.
func runUser(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	return userCommand(ctx, cfg, args, os.Stdin, stdout, stderr)
}

func userCommand(ctx context.Context, cfg *config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if handled, err := commandHelp(args, userUsage, stdout); handled {
		return err
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("lightnvr user "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, userUsage) }
	role := fs.String("role", "user", "role: admin, user, viewer or api")
	email := fs.String("email", "", "e-mail address")
	random := fs.Bool("random", false, "generate a random password and print it")
	// Flags may follow the name: parse around it.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if name == "" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	needName := cmd != "list"
	if (needName && name == "") || (!needName && name != "") || len(rest) > 0 {
		fs.Usage()
		return errUsage
	}

	if err := os.MkdirAll(filepath.Dir(cfg.Database.Path), 0o755); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	conn, err := db.Open(ctx, cfg.Database.Path)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Migrate(ctx); err != nil {
		return err
	}
	opt, err := auth.OptionsFromConfig(cfg)
	if err != nil {
		return err
	}
	opt.Enabled = true // the console manages users whatever the web setting
	opt.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	svc := auth.New(conn, opt)

	switch cmd {
	case "list":
		return userList(ctx, svc, stdout)
	case "add":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return err
		}
		pw, err := newPassword(stdin, stdout, *random)
		if err != nil {
			return err
		}
		u, err := svc.CreateUser(ctx, auth.NewUser{Username: name, Password: pw, Email: *email, Role: r, Active: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %q (id %d, role %s)\n", u.Username, u.ID, u.Role)
		return nil
	case "passwd":
		u, err := svc.GetUserByName(ctx, name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		pw, err := newPassword(stdin, stdout, *random)
		if err != nil {
			return err
		}
		if err := svc.SetPassword(ctx, u.ID, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %q changed; their sessions have ended\n", u.Username)
		return nil
	case "disable", "enable":
		u, err := svc.GetUserByName(ctx, name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		if err := svc.SetActive(ctx, u.ID, cmd == "enable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %q %sd\n", u.Username, cmd)
		return nil
	case "unlock":
		// No user lookup: failures are counted for names that do not exist
		// too, and a lockout of any of them may be cleared.
		cleared, err := svc.ClearLockout(ctx, name)
		if err != nil {
			return err
		}
		if cleared {
			fmt.Fprintf(stdout, "login lockout of %q cleared\n", name)
		} else {
			fmt.Fprintf(stdout, "no failed logins recorded for %q\n", name)
		}
		return nil
	case "reset-mfa":
		u, err := svc.GetUserByName(ctx, name)
		if err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
		if err := svc.TOTPDisable(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "TOTP turned off for %q\n", u.Username)
		return nil
	}
	fmt.Fprintf(stderr, "lightnvr user: unknown command %q\n\n", cmd)
	fs.Usage()
	return errUsage
}

func userList(ctx context.Context, svc *auth.Service, stdout io.Writer) error {
	us, err := svc.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tACTIVE\tTOTP\tAPI KEY\tLAST LOGIN")
	for _, u := range us {
		last := "never"
		if u.LastLogin > 0 {
			last = time.Unix(u.LastLogin, 0).Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Role, yesNo(u.IsActive), yesNo(u.TOTPEnabled), yesNo(u.HasAPIKey), last)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// newPassword gets the new password: generated, typed twice on a terminal
// without echo, or one line from a pipe.
func newPassword(stdin io.Reader, stdout io.Writer, random bool) (string, error) {
	if random {
		pw := auth.NewToken()[:16]
		fmt.Fprintf(stdout, "password: %s\n", pw)
		return pw, nil
	}
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		first, err := readHidden(f, stdout, "New password: ")
		if err != nil {
			return "", err
		}
		second, err := readHidden(f, stdout, "Repeat password: ")
		if err != nil {
			return "", err
		}
		if first != second {
			return "", errors.New("the passwords differ")
		}
		return first, auth.ValidatePassword(first)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	return pw, auth.ValidatePassword(pw)
}

func readHidden(f *os.File, stdout io.Writer, prompt string) (string, error) {
	fmt.Fprint(stdout, prompt)
	restore := echoOff(f)
	line, err := bufio.NewReader(f).ReadString('\n')
	restore()
	fmt.Fprintln(stdout)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
