package ota

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"strings"
)

// EnvCopy is one copy of the U-Boot environment: a device or file, the byte
// offset in it and the environment size (one fw_env.config line).
type EnvCopy struct {
	Path   string
	Offset int64
	Size   int
}

// EnvStore reads and writes the U-Boot environment the way fw_printenv and
// fw_setenv do: one copy (CRC32 + data), or two redundant copies (CRC32 +
// flag byte + data) where the valid copy with the newer flag wins and a write
// goes to the other copy, so a power cut mid-write leaves the old one intact.
type EnvStore struct{ Copies []EnvCopy }

// Env is the environment's variables in their stored order.
type Env struct {
	keys []string
	vals map[string]string
}

// Get returns a variable ("" when unset).
func (e *Env) Get(k string) string { return e.vals[k] }

// Set sets or, with "", deletes a variable.
func (e *Env) Set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

// ParseEnvConfig reads an fw_env.config: "device offset size [erase-size [sectors]]"
// per line, one line for a single environment, two for a redundant one.
func ParseEnvConfig(path string) (*EnvStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("env config: %w", err)
	}
	defer f.Close()
	s := &EnvStore{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) == 0 || strings.HasPrefix(fl[0], "#") {
			continue
		}
		if len(fl) < 3 {
			return nil, fmt.Errorf("env config %s: %q needs device, offset and size", path, sc.Text())
		}
		off, err1 := strconv.ParseInt(fl[1], 0, 64)
		size, err2 := strconv.ParseInt(fl[2], 0, 32)
		if err1 != nil || err2 != nil || size < 16 {
			return nil, fmt.Errorf("env config %s: bad offset or size in %q", path, sc.Text())
		}
		s.Copies = append(s.Copies, EnvCopy{Path: fl[0], Offset: off, Size: int(size)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("env config: %w", err)
	}
	if n := len(s.Copies); n < 1 || n > 2 || (n == 2 && s.Copies[0].Size != s.Copies[1].Size) {
		return nil, fmt.Errorf("env config %s: want one line, or two of the same size", path)
	}
	return s, nil
}

func (s *EnvStore) redundant() bool { return len(s.Copies) == 2 }

func (s *EnvStore) header() int {
	if s.redundant() {
		return 5
	}
	return 4
}

// copyState is one copy as read: valid when its CRC matches.
type copyState struct {
	valid bool
	flag  byte
	data  []byte
}

func (s *EnvStore) readCopy(c EnvCopy) (copyState, error) {
	buf := make([]byte, c.Size)
	if err := readAt(c.Path, c.Offset, buf); err != nil {
		return copyState{}, fmt.Errorf("read env %s: %w", c.Path, err)
	}
	h := s.header()
	st := copyState{data: buf[h:]}
	st.valid = binary.LittleEndian.Uint32(buf) == crc32.ChecksumIEEE(st.data)
	if s.redundant() {
		st.flag = buf[4]
	}
	return st, nil
}

// current picks the copy U-Boot boots with; -1 when none is valid.
func (s *EnvStore) current() (int, []copyState, error) {
	var sts []copyState
	for _, c := range s.Copies {
		st, err := s.readCopy(c)
		if err != nil {
			return -1, nil, err
		}
		sts = append(sts, st)
	}
	switch {
	case !sts[0].valid && (len(sts) == 1 || !sts[1].valid):
		return -1, sts, nil
	case len(sts) == 1 || !sts[1].valid:
		return 0, sts, nil
	case !sts[0].valid:
		return 1, sts, nil
	}
	return newerCopy(sts[0].flag, sts[1].flag), sts, nil
}

// newerCopy is U-Boot's rule for two valid copies: the higher flag wins, with
// the counter's wrap from 255 to 0 counted as newer.
func newerCopy(f0, f1 byte) int {
	switch {
	case f0 == 255 && f1 == 0:
		return 1
	case f1 == 255 && f0 == 0:
		return 0
	case f1 > f0:
		return 1
	}
	return 0
}

// ErrNoEnv means no copy has a valid CRC: U-Boot would use its built-in default.
var ErrNoEnv = errors.New("no valid U-Boot environment (bad CRC in every copy)")

// Read returns the environment U-Boot would boot with.
func (s *EnvStore) Read() (*Env, error) {
	i, sts, err := s.current()
	if err != nil {
		return nil, err
	}
	if i < 0 {
		return nil, ErrNoEnv
	}
	return parseEnv(sts[i].data), nil
}

func parseEnv(data []byte) *Env {
	e := &Env{vals: map[string]string{}}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if len(kv) == 0 {
			break // "\0\0" ends the list
		}
		k, v, ok := strings.Cut(string(kv), "=")
		if ok {
			e.Set(k, v)
		}
	}
	return e
}

// Update applies set (a value of "" deletes the variable) in one write.
func (s *EnvStore) Update(set map[string]string) error {
	i, sts, err := s.current()
	if err != nil {
		return err
	}
	if i < 0 {
		return ErrNoEnv
	}
	e := parseEnv(sts[i].data)
	for _, k := range sortedKeys(set) {
		e.Set(k, set[k])
	}
	data, err := e.encode(s.Copies[0].Size - s.header())
	if err != nil {
		return err
	}
	buf := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	target := 0
	if s.redundant() {
		target = 1 - i
		buf = append(buf, sts[i].flag+1)
	}
	buf = append(buf, data...)
	c := s.Copies[target]
	if err := writeAt(c.Path, c.Offset, buf); err != nil {
		return fmt.Errorf("write env %s: %w", c.Path, err)
	}
	return nil
}

func (e *Env) encode(size int) ([]byte, error) {
	var b bytes.Buffer
	for _, k := range e.keys {
		if v := e.vals[k]; v != "" {
			b.WriteString(k + "=" + v)
			b.WriteByte(0)
		}
	}
	b.WriteByte(0)
	if b.Len() > size {
		return nil, fmt.Errorf("environment needs %d bytes, the partition holds %d", b.Len(), size)
	}
	out := make([]byte, size)
	copy(out, b.Bytes())
	return out, nil
}

// Create writes a fresh environment holding vars ("name=value") into the
// first copy, as mkenvimage would; a redundant second copy is left as it is
// and loses to it only if its own CRC fails or its flag is older.
func (s *EnvStore) Create(vars ...string) error {
	e := &Env{vals: map[string]string{}}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		e.Set(k, v)
	}
	data, err := e.encode(s.Copies[0].Size - s.header())
	if err != nil {
		return err
	}
	buf := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	if s.redundant() {
		buf = append(buf, 1)
	}
	return writeAt(s.Copies[0].Path, s.Copies[0].Offset, append(buf, data...))
}
