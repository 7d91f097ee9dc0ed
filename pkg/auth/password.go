package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id parameters.
//
// The defaults (19 MiB, 2 passes, 1 lane) are the smallest memory setting
// OWASP lists for argon2id. The box has 256 MB and records video, so memory is
// the scarce resource; the Service runs at most two hashes at a time (see
// maxConcurrentHashes), which caps password hashing at ~38 MiB however many
// logins arrive at once. One lane because the SoC has a single core.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// DefaultHashParams is what new hashes use.
var DefaultHashParams = HashParams{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

// LightNVR's PBKDF2-HMAC-SHA256 scheme: hex salt in users.salt, hex 32-byte
// digest in users.password_hash.
const (
	legacyPBKDF2Iterations = 10000
	legacyPBKDF2KeyLen     = 32
)

// Bounds on parameters read back from the database: a tampered or corrupt
// hash must not make one login allocate gigabytes or spin for minutes.
const (
	maxHashMemory = 256 * 1024 // KiB
	maxHashTime   = 16
	maxHashKeyLen = 128
)

// MaxPasswordLen bounds the password length the API accepts: hashing cost
// does not grow with it, but request size should stay small anyway.
const MaxPasswordLen = 1024

var errBadHash = errors.New("unrecognised password hash")

// HashPassword returns a PHC-format argon2id hash of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>.
func HashPassword(password string, p HashParams) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks password against a stored hash and salt as found in
// users.password_hash and users.salt: argon2id PHC strings (salt column
// unused) or LightNVR's PBKDF2 hex pair. rehash is true when the password is
// correct but stored with a scheme or parameters other than want, so the
// caller should store a fresh HashPassword.
func VerifyPassword(storedHash, storedSalt, password string, want HashParams) (ok, rehash bool, err error) {
	if strings.HasPrefix(storedHash, "$argon2id$") {
		p, salt, key, err := parseArgon2id(storedHash)
		if err != nil {
			return false, false, err
		}
		got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
		if subtle.ConstantTimeCompare(got, key) != 1 {
			return false, false, nil
		}
		return true, p.Memory != want.Memory || p.Time != want.Time || p.Threads != want.Threads || uint32(len(key)) != want.KeyLen, nil
	}
	want256, err := hex.DecodeString(storedHash)
	if err != nil || len(want256) != legacyPBKDF2KeyLen {
		return false, false, errBadHash
	}
	salt, err := hex.DecodeString(storedSalt)
	if err != nil || len(salt) == 0 {
		return false, false, fmt.Errorf("legacy password salt is not hex: %w", errBadHash)
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, legacyPBKDF2Iterations, legacyPBKDF2KeyLen)
	if err != nil {
		return false, false, fmt.Errorf("pbkdf2: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want256) != 1 {
		return false, false, nil
	}
	return true, true, nil
}

// legacyHash computes LightNVR's stored form of password; tests use it to
// build databases as LightNVR would have written them.
func legacyHash(password string, salt []byte) (hash, saltHex string) {
	got, _ := pbkdf2.Key(sha256.New, password, salt, legacyPBKDF2Iterations, legacyPBKDF2KeyLen)
	return hex.EncodeToString(got), hex.EncodeToString(salt)
}

func parseArgon2id(s string) (HashParams, []byte, []byte, error) {
	var p HashParams
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("argon2id version %q: %w", parts[2], errBadHash)
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("argon2id parameter %q: %w", kv, errBadHash)
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, errBadHash
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, errBadHash
		}
	}
	if p.Memory == 0 || p.Memory > maxHashMemory || p.Time == 0 || p.Time > maxHashTime || p.Threads == 0 || p.Memory < 8*uint32(p.Threads) {
		return p, nil, nil, fmt.Errorf("argon2id parameters out of range: %w", errBadHash)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxHashKeyLen {
		return p, nil, nil, errBadHash
	}
	p.KeyLen, p.SaltLen = uint32(len(key)), uint32(len(salt))
	return p, salt, key, nil
}
