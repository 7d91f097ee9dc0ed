// Package qemutest boots the firmware on qemu's Malta board (Debian's mipsel Malta
// kernel, the squashfs root, an ext4 data disk) and drives its serial console, so
// the appliance is tested as shipped: init scripts, supervision, login, diag.
package qemutest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Images are the files a boot needs (made by scripts/qemu-malta-prepare.sh and
// scripts/firmware-image.sh).
type Images struct {
	Kernel    string // Malta vmlinuz (an ELF qemu loads directly)
	Initramfs string // modules + /init that switches to the squashfs root
	RootFS    string // the firmware's squashfs (slot A, /dev/vda)
	DataDisk  string // ext4 labelled nvrdata; written by the guest
	// With EnvDisk (the U-Boot env, /dev/vdd) the machine is an A/B board:
	// the initramfs's bootsel boots RootFS or SlotB (/dev/vdc), and both
	// slots are writable. Without it RootFS is the read-only root.
	SlotB   string
	EnvDisk string
}

// Options tune one boot.
type Options struct {
	MemoryMB int         // -m; 160 is about what Linux gets on the A1
	Forward  map[int]int // host loopback port -> guest TCP port
	Append   string      // extra kernel command line
	Console  io.Writer   // copy of everything the serial console prints (optional)
	// Reboot lets a guest reset (reboot, watchdog) boot again instead of
	// ending qemu.
	Reboot bool
	// VirtioNet gives the guest a virtio NIC instead of the Malta's own
	// pcnet, whose emulation stalls for good (the guest logs "transmit
	// timed out" and resets it) under a few Mbit/s of incoming streams.
	// Only for a machine without the A/B disks: a virtio NIC needs one of
	// the PCI slots Linux routes an interrupt to, which they take.
	VirtioNet bool
}

// Machine is one running qemu. Its serial console is qemu's stdio.
type Machine struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu      sync.Mutex
	console bytes.Buffer // everything printed so far
	cursor  int          // Expect searches from here
	changed chan struct{}
	done    chan struct{}
	waitErr error
	stderr  bytes.Buffer
}

// Boot starts qemu-system-mipsel. The caller must Stop (or PowerOff) it; Boot
// registers nothing itself so it can be used outside tests.
func Boot(img Images, opt Options) (*Machine, error) {
	if opt.MemoryMB == 0 {
		opt.MemoryMB = 160
	}
	netdev := "user,id=n0"
	for host, guest := range opt.Forward {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", host, guest)
	}
	args := []string{
		"-M", "malta", "-cpu", "24Kf", "-m", strconv.Itoa(opt.MemoryMB),
		"-nographic", "-vga", "none", "-monitor", "none",
		"-kernel", img.Kernel, "-initrd", img.Initramfs,
		"-append", "console=ttyS0 root=/dev/vda quiet " + opt.Append,
	}
	if !opt.Reboot {
		args = append(args, "-no-reboot")
	}
	// virtio disks are named in this order: vda, vdb, vdc, vdd.
	root := img.RootFS + ",readonly=on"
	if img.EnvDisk != "" {
		root = img.RootFS
	}
	args = append(args, disk("root", root)...)
	args = append(args, disk("data", img.DataDisk)...)
	if img.EnvDisk != "" {
		args = append(args, disk("slotb", img.SlotB)...)
		args = append(args, disk("env", img.EnvDisk)...)
	}
	// romfile= : without it qemu wants an option ROM from ipxe-qemu.
	// Slot 11 is the Malta's own Ethernet: Linux routes an interrupt
	// there, and to only four more slots, which the disks take first.
	nic := "pcnet,netdev=n0,romfile=,addr=0x0b"
	if opt.VirtioNet {
		if img.EnvDisk != "" {
			return nil, fmt.Errorf("a virtio NIC needs a PCI slot the four A/B disks take")
		}
		nic = "virtio-net-pci,netdev=n0,romfile="
	}
	args = append(args, "-netdev", netdev, "-device", nic)
	m := &Machine{changed: make(chan struct{}), done: make(chan struct{})}
	m.cmd = exec.Command("qemu-system-mipsel", args...)
	var err error
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	m.cmd.Stderr = &lockedWriter{mu: &m.mu, w: &m.stderr}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu-system-mipsel: %w", err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				if opt.Console != nil {
					opt.Console.Write(buf[:n])
				}
				m.mu.Lock()
				m.console.Write(buf[:n])
				close(m.changed)
				m.changed = make(chan struct{})
				m.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		<-copied
		err := m.cmd.Wait()
		m.mu.Lock()
		m.waitErr = err
		m.mu.Unlock()
		close(m.done)
	}()
	return m, nil
}

// disk is one raw virtio disk; file may carry drive options (",readonly=on").
func disk(id, file string) []string {
	return []string{"-drive", "file=" + file + ",if=none,format=raw,id=" + id, "-device", "virtio-blk-pci,drive=" + id}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Expect waits until the console, from the cursor on, matches re; it returns the
// submatches and moves the cursor past the match.
func (m *Machine) Expect(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	for {
		m.mu.Lock()
		rest := m.console.Bytes()[m.cursor:]
		if loc := re.FindSubmatchIndex(rest); loc != nil {
			var subs []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] < 0 {
					subs = append(subs, "")
					continue
				}
				subs = append(subs, string(rest[loc[i]:loc[i+1]]))
			}
			m.cursor += loc[1]
			m.mu.Unlock()
			return subs, nil
		}
		changed := m.changed
		m.mu.Unlock()
		select {
		case <-changed:
		case <-m.done:
			return nil, fmt.Errorf("qemu exited while waiting for %q: %v", re, m.exitErr())
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %q on the serial console: %w; last output:\n%s", re, ctx.Err(), m.tail(1500))
		}
	}
}

// Send types s on the serial console.
func (m *Machine) Send(s string) error {
	_, err := io.WriteString(m.stdin, s)
	return err
}

// Run types a shell command, waits for it to finish and returns its output and
// exit status. The shell must be at a prompt.
func (m *Machine) Run(ctx context.Context, command string) (string, int, error) {
	tag := fmt.Sprintf("END%d", time.Now().UnixNano()%1e9)
	// The marker is split in the typed line so only the command's echo-ed result matches.
	if err := m.Send(command + "; echo \"" + tag[:2] + "\"\"" + tag[2:] + ":$?\"\n"); err != nil {
		return "", -1, err
	}
	re := regexp.MustCompile(`(?s)\n(.*?)` + tag + `:(\d+)\r?\n`)
	subs, err := m.Expect(ctx, re)
	if err != nil {
		return "", -1, err
	}
	rc, _ := strconv.Atoi(subs[2])
	return subs[1], rc, nil
}

// Mark is where the next Expect starts searching: ConsoleSince(Mark()) is
// what the console printed after it.
func (m *Machine) Mark() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursor
}

// ConsoleSince returns what was printed from mark on.
func (m *Machine) ConsoleSince(mark int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.console.Bytes()[mark:])
}

// Console returns everything printed so far.
func (m *Machine) Console() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.console.String()
}

func (m *Machine) tail(n int) string {
	b := m.console.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func (m *Machine) exitErr() error {
	select {
	case <-m.done:
	default:
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.waitErr != nil {
		return fmt.Errorf("%w (stderr: %s)", m.waitErr, lastLines(m.stderr.String(), 5))
	}
	return nil
}

// Exited reports qemu's exit once it has exited.
func (m *Machine) Exited() <-chan struct{} { return m.done }

// WaitExit waits for qemu to exit on its own (the guest powered off) and returns
// its exit error.
func (m *Machine) WaitExit(ctx context.Context) error {
	select {
	case <-m.done:
		return m.exitErr()
	case <-ctx.Done():
		return fmt.Errorf("qemu still running: %w; last output:\n%s", ctx.Err(), m.tail(1500))
	}
}

// Stop kills qemu if it is still running (a test's cleanup path).
func (m *Machine) Stop() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// Kill ends qemu with SIGKILL and waits until it is gone: the guest gets no
// shutdown, its page cache and whatever qemu had not yet written to the disk
// images are lost, as in a power cut.
func (m *Machine) Kill() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Kill()
	<-m.done
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
