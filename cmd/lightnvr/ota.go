package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"lightnvr/pkg/config"
	"lightnvr/pkg/ota"
)

const otaUsage = `usage: lightnvr [-c FILE] ota COMMAND

Commands:
  verify [-pubkey B64] [-board B] FILE   check a bundle's signature, images and board without installing it
  install FILE                           install a bundle into the inactive slot ([ota] must be configured)
  status                                 both slots' versions, the boot counter, the last update's result
  mark-good                              confirm the running slot now (the daemon does it after healthy_minutes)
  pack -key PRIV -version V -board B [-min-version V] [-rotate-keys B64,...] -o OUT TARGET=FILE...
                                         build a signed bundle
  keygen PRIV                            write a new signing key to PRIV and print its public key

Bundle format, key rotation and the boot contract: docs/ota.md.
`

// runOTA is 'lightnvr ota ...'.
func runOTA(_ context.Context, g globalOpts, args []string, stdout, stderr io.Writer) error {
	if handled, err := commandHelp(args, otaUsage, stdout); handled {
		return err
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "verify":
		return otaVerify(g, rest, stdout, stderr)
	case "install", "apply":
		return otaInstall(g, rest, stdout, stderr)
	case "status":
		return otaStatus(g, rest, stdout, stderr)
	case "mark-good":
		return otaMarkGood(g, rest, stdout, stderr)
	case "pack":
		return otaPack(rest, stdout, stderr)
	case "keygen":
		return otaKeygen(rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "lightnvr ota: unknown command %q\n\n%s", cmd, otaUsage)
	return errUsage
}

// otaConfig loads [ota] without failing on a missing file: verify works on a
// build host that has no configuration.
func otaConfig(g globalOpts) config.OTAConfig {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return config.Default().OTA
	}
	return cfg.OTA
}

func otaSystem(g globalOpts) (*ota.System, error) {
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return nil, err
	}
	return ota.FromConfig(cfg.OTA)
}

func otaVerify(g globalOpts, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ota verify", "ota verify [-pubkey B64] [-board B] FILE", stderr)
	pub := fs.String("pubkey", "", "trust this base64 public key instead of the installed keys")
	board := fs.String("board", "", "the board the bundle must be for (default [ota] board; empty = any)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	oc := otaConfig(g)
	keys, err := ota.LoadKeyRing(oc.KeysFile)
	if *pub != "" {
		var k []ed25519.PublicKey
		k, err = ota.ParseKeys([]string{*pub})
		keys = ota.NewKeyRing(k...)
	}
	if err != nil {
		return err
	}
	m, err := withBundle(fs.Arg(0), func(r io.Reader) (*ota.Manifest, error) { return ota.Verify(r, keys) })
	if err != nil {
		return err
	}
	want := *board
	if want == "" {
		want = oc.Board
	}
	if want != "" && m.Board != want {
		return &ota.Refusal{Reason: fmt.Sprintf("wrong board: bundle is for %q, this device is %q", m.Board, want)}
	}
	fmt.Fprintf(stdout, "ok: version %s for %s (min %s), key %s\n", m.Version, m.Board, orDash(m.MinVersion), m.KeyID)
	for _, im := range m.Images {
		fmt.Fprintf(stdout, "  %s -> %s: %d bytes, sha256 %s\n", im.Name, im.Target, im.Size, im.SHA256)
	}
	if len(m.Keys) > 0 {
		fmt.Fprintf(stdout, "  installs a new key list of %d key(s)\n", len(m.Keys))
	}
	return nil
}

// withBundle hands the bundle file to read, a streaming check or install.
func withBundle(path string, read func(io.Reader) (*ota.Manifest, error)) (*ota.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// otaOnDevice parses a device subcommand's flags, wants nargs arguments and
// opens the [ota] system it acts on.
func otaOnDevice(g globalOpts, fs *flag.FlagSet, args []string, nargs int) (*ota.System, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != nargs {
		fs.Usage()
		return nil, errUsage
	}
	return otaSystem(g)
}

func otaInstall(g globalOpts, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ota install", "ota install FILE", stderr)
	sys, err := otaOnDevice(g, fs, args, 1)
	if err != nil {
		return err
	}
	m, err := withBundle(fs.Arg(0), sys.Install)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "installed %s; reboot to try it (U-Boot falls back if it does not come up healthy)\n", m.Version)
	return nil
}

func otaStatus(g globalOpts, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ota status", "ota status [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	sys, err := otaOnDevice(g, fs, args, 0)
	if err != nil {
		return err
	}
	st, err := sys.Status()
	switch {
	case err != nil:
		return err
	case *asJSON:
		return json.NewEncoder(stdout).Encode(st)
	}
	fmt.Fprintln(stdout, ota.Summary(st))
	return nil
}

func otaMarkGood(g globalOpts, args []string, stdout, stderr io.Writer) error {
	sys, err := otaOnDevice(g, newFlagSet("ota mark-good", "ota mark-good", stderr), args, 0)
	if err != nil {
		return err
	}
	wrote, err := sys.MarkGood()
	if err == nil {
		fmt.Fprintln(stdout, map[bool]string{true: "running slot marked good", false: "no update on trial: nothing to mark"}[wrote])
	}
	return err
}

func otaPack(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ota pack", "ota pack -key PRIV -version V -board B [-min-version V] [-rotate-keys B64,...] -o OUT TARGET=FILE...", stderr)
	keyFile := fs.String("key", "", "private key file (from ota keygen)")
	var m ota.Manifest
	fs.StringVar(&m.Version, "version", "", "firmware version")
	fs.StringVar(&m.Board, "board", "", "board name")
	fs.StringVar(&m.MinVersion, "min-version", "", "oldest version installable once this one runs")
	rotate := fs.String("rotate-keys", "", "new trusted key list (base64 public keys, comma separated)")
	out := fs.String("o", "", "output bundle")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	priv, err := readPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	if *rotate != "" {
		m.Keys = strings.Split(*rotate, ",")
	}
	var images []ota.PackImage
	for _, a := range fs.Args() {
		target, path, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q is not TARGET=FILE", a)
		}
		images = append(images, ota.PackImage{Name: target, Target: target, Path: path})
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := ota.Pack(f, m, priv, images); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s is not a base64 ed25519 seed (from ota keygen)", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func otaKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ota keygen", "ota keygen PRIV", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(fs.Arg(0), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, base64.StdEncoding.EncodeToString(priv.Seed())); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(pub))
	return nil
}
