package api

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/host"
	"lightnvr/pkg/record"
	"lightnvr/pkg/version"
)

// backupHandler serves the system backup and its restore. The archive holds
// the configuration with its secrets, so both routes are admin-only.
type backupHandler struct {
	failer
	// commit serialises restores: one staged restore at a time.
	commit     sync.Mutex
	db         *db.DB
	live       *liveConfig
	configPath string // Deps.ConfigPath: where a restored configuration goes when no file was loaded
}

var backupRoutes = []endpoint[*backupHandler]{
	{"POST", "/api/system/backup", auth.AccessAdmin, (*backupHandler).handleBackup},
	{"POST", "/api/system/restore", auth.AccessAdmin, (*backupHandler).handleRestore},
}

// The entries of a backup archive, written in this order.
const (
	backupManifestName = "manifest.json"
	backupConfigName   = "lightnvr.ini"
	backupDBName       = "lightnvr.db"
	backupFormat       = "lightnvr-backup"
	backupFormatV1     = 1
)

type backupManifest struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	LightNVR  string `json:"lightnvr_version"`
	CreatedAt string `json:"created_at"`
}

// handleBackup answers a zip of the manifest, the configuration file and a
// snapshot of the database made with SQLite's online backup. The snapshot is
// a temporary file in the data directory (never under the web root), removed
// before the reply starts: the open descriptor keeps it readable.
func (h *backupHandler) handleBackup(ctx *fasthttp.RequestCtx) {
	ini, snap, err := h.contents(ctx)
	if err != nil {
		h.fail(ctx, "backup", err)
		return
	}
	now := time.Now().UTC()
	manifest, _ := json.Marshal(backupManifest{Format: backupFormat, Version: backupFormatV1, LightNVR: version.Version, CreatedAt: now.Format(time.RFC3339)})
	h.log.Info("backup made", "by", PrincipalOf(ctx).Username)
	ctx.SetContentType("application/zip")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="lightnvr-backup-`+now.Format("20060102-150405")+`.zip"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer func() { _ = snap.Close() }()
		if err := writeBackup(w, manifest, ini, snap); err != nil {
			h.log.Warn("backup download cut short", "err", err)
		}
	})
}

// contents are the configuration text and the database snapshot.
func (h *backupHandler) contents(ctx *fasthttp.RequestCtx) ([]byte, *os.File, error) {
	ini, err := h.configText()
	if err != nil {
		return nil, nil, err
	}
	snap, err := h.snapshot(ctx)
	return ini, snap, err
}

// configText is the configuration file as saved, or, when the daemon runs
// without one, the live configuration rendered as a file.
func (h *backupHandler) configText() ([]byte, error) {
	cur := h.live.get()
	if p := cur.Path(); p != "" {
		b, err := os.ReadFile(p)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read config: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(h.db.Path()), ".backup-")
	if err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	path := filepath.Join(tmp, backupConfigName)
	if err := cur.Save(path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// snapshot makes the database copy and returns it open, already unlinked.
func (h *backupHandler) snapshot(ctx *fasthttp.RequestCtx) (*os.File, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(h.db.Path()), ".backup-")
	if err != nil {
		return nil, fmt.Errorf("snapshot database: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	path := filepath.Join(tmp, backupDBName)
	if err := h.db.BackupTo(requestContext(ctx), path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot database: %w", err)
	}
	return f, nil
}

func writeBackup(w io.Writer, manifest, ini []byte, snap *os.File) error {
	// A zip (stored, not compressed: the snapshot is the bulk and SQLite
	// pages barely compress) rather than a tar: batch downloads already
	// link the zip code, and the appliance's binary has a size budget.
	zw := zip.NewWriter(w)
	mod := time.Now()
	for _, e := range []struct {
		name string
		r    io.Reader
	}{
		{backupManifestName, bytes.NewReader(manifest)},
		{backupConfigName, bytes.NewReader(ini)},
		{backupDBName, snap},
	} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store, Modified: mod})
		if err != nil {
			return err
		}
		if _, err := io.Copy(fw, e.r); err != nil {
			return fmt.Errorf("write %s: %w", e.name, err)
		}
	}
	return zw.Close()
}

// maxRestoreBody bounds the uploaded archive (it is received to the data
// disk, so the bound is there to keep a runaway upload from filling it);
// maxBackupINI bounds its configuration entry.
const (
	maxRestoreBody = 1 << 30
	maxBackupINI   = 1 << 20
)

// pendingRestoreDir, beside the database, holds a checked restore until the
// next start applies it; restorePlanName inside it names the targets and is
// written last.
const (
	pendingRestoreDir = "restore-pending"
	restorePlanName   = "restore.json"
)

// restorePlan says where the staged files go.
type restorePlan struct {
	Config   string `json:"config"`
	Database string `json:"database"`
}

// handleRestore checks an uploaded backup and stages it; the next start
// applies it. Every check runs on a staged copy in the data directory, so a
// refusal leaves the running system as it was.
func (h *backupHandler) handleRestore(ctx *fasthttp.RequestCtx) {
	dir := filepath.Dir(h.db.Path())
	archive, size, err := receiveArchive(ctx, dir)
	if err != nil {
		h.fail(ctx, "restore", err)
		return
	}
	defer archive.Close()
	stage, err := os.MkdirTemp(dir, ".restore-")
	if err != nil {
		h.fail(ctx, "restore", fmt.Errorf("stage restore: %w", err))
		return
	}
	committed := false
	defer func() {
		if !committed {
			_ = os.RemoveAll(stage)
		}
	}()
	m, err := h.stageRestore(ctx, archive, size, stage)
	if err != nil {
		h.fail(ctx, "restore", err)
		return
	}
	if err := h.commitRestore(stage, filepath.Join(dir, pendingRestoreDir)); err != nil {
		h.fail(ctx, "restore", err)
		return
	}
	committed = true
	h.log.Warn("restore staged; it is applied at the next start", "by", PrincipalOf(ctx).Username, "backup_created", m.CreatedAt)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"success":          true,
		"restart_required": true,
		"message":          "Backup checked and staged: it replaces the configuration and database when LightNVR next starts (POST /api/system/restart)",
		"backup_created":   m.CreatedAt,
		"backup_version":   m.LightNVR,
	})
}

// receiveArchive copies the uploaded archive into an unlinked file in dir,
// up to maxRestoreBody: it is checked from there, never held in memory (the
// board has 256 MB), and it is gone with the handle whatever happens.
func receiveArchive(ctx *fasthttp.RequestCtx, dir string) (*os.File, int64, error) {
	f, err := os.CreateTemp(dir, ".restore-upload-")
	if err != nil {
		return nil, 0, fmt.Errorf("receive restore: %w", err)
	}
	_ = os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(requestBody(ctx), maxRestoreBody+1))
	switch {
	case err != nil:
		err = fmt.Errorf("receive restore: %w", err)
	case n == 0:
		err = &statusError{status: fasthttp.StatusBadRequest, msg: "request body is empty; send the backup archive (application/zip)"}
	case n > maxRestoreBody:
		err = &statusError{status: fasthttp.StatusRequestEntityTooLarge, msg: fmt.Sprintf("backup archive is larger than %d bytes", int64(maxRestoreBody))}
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}

// badArchive is the 400 of a refused restore.
func badArchive(format string, args ...any) error {
	return &statusError{status: fasthttp.StatusBadRequest, msg: "restore refused, nothing was changed: " + fmt.Sprintf(format, args...)}
}

// stageRestore unpacks the archive into stage and checks both files.
func (h *backupHandler) stageRestore(ctx *fasthttp.RequestCtx, archive io.ReaderAt, size int64, stage string) (backupManifest, error) {
	m, ini, err := unpackBackup(archive, size, filepath.Join(stage, backupDBName))
	if err != nil {
		return m, err
	}
	live := h.live.get()
	iniPath := filepath.Join(stage, backupConfigName)
	if err := host.WriteFile(iniPath, ini, 0o600); err != nil {
		return m, fmt.Errorf("stage config: %w", err)
	}
	cfg, err := config.Parse(backupConfigName, ini)
	if err != nil {
		return m, badArchive("its %s does not load: %v", backupConfigName, err)
	}
	// The database is restored where this system keeps it: a backup from a
	// machine with another layout must not point the next start elsewhere.
	if cfg.Database.Path != live.Database.Path {
		cfg.Database.Path = live.Database.Path
		if err := cfg.Save(iniPath); err != nil {
			return m, fmt.Errorf("stage config: %w", err)
		}
	}
	if err := db.VerifyBackup(requestContext(ctx), filepath.Join(stage, backupDBName)); err != nil {
		return m, badArchive("its %s is not a usable LightNVR database: %v", backupDBName, err)
	}
	plan, _ := json.Marshal(restorePlan{Config: configSavePath(live, h.configPath), Database: live.Database.Path})
	if err := host.WriteFile(filepath.Join(stage, restorePlanName), plan, 0o600); err != nil {
		return m, fmt.Errorf("stage restore: %w", err)
	}
	return m, nil
}

// unpackBackup reads the archive: the manifest and configuration into
// memory, the database into dbPath.
func unpackBackup(archive io.ReaderAt, size int64, dbPath string) (backupManifest, []byte, error) {
	var m backupManifest
	var ini []byte
	seen := map[string]bool{}
	zr, err := zip.NewReader(archive, size)
	if err != nil {
		return m, nil, badArchive("not a complete backup archive (zip): %v", err)
	}
	for _, f := range zr.File {
		if seen[f.Name] {
			return m, nil, badArchive("the archive holds %s twice", f.Name)
		}
		seen[f.Name] = true
		if err := unpackEntry(f, &m, &ini, dbPath); err != nil {
			return m, nil, err
		}
	}
	for _, name := range []string{backupManifestName, backupConfigName, backupDBName} {
		if !seen[name] {
			return m, nil, badArchive("the archive has no %s (truncated, or not a LightNVR backup)", name)
		}
	}
	if m.Format != backupFormat || m.Version != backupFormatV1 {
		return m, nil, badArchive("%s is not a version %d %s manifest", backupManifestName, backupFormatV1, backupFormat)
	}
	return m, ini, nil
}

// unpackEntry reads one entry of a backup archive: the manifest into m, the
// configuration into ini, the database into dbPath.
func unpackEntry(f *zip.File, m *backupManifest, ini *[]byte, dbPath string) error {
	rc, err := f.Open()
	if err != nil {
		return badArchive("reading %s: %v", f.Name, err)
	}
	defer rc.Close()
	switch f.Name {
	case backupManifestName:
		err = json.NewDecoder(io.LimitReader(rc, maxBackupINI)).Decode(m)
	case backupConfigName:
		*ini, err = io.ReadAll(io.LimitReader(rc, maxBackupINI+1))
		if err == nil && len(*ini) > maxBackupINI {
			return badArchive("its %s is larger than %d bytes", backupConfigName, maxBackupINI)
		}
	case backupDBName:
		err = writeStaged(dbPath, rc)
	default:
		return badArchive("unexpected entry %q (a backup holds %s, %s and %s)", f.Name, backupManifestName, backupConfigName, backupDBName)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zip.ErrChecksum) {
		return badArchive("not a complete backup archive: %s is cut short or damaged", f.Name)
	}
	if err != nil {
		return badArchive("reading %s: %v", f.Name, err)
	}
	return nil
}

// commitRestore makes the checked stage the pending restore, replacing one
// staged before. The rename is the commit: the next start sees all of it or
// none.
func (h *backupHandler) commitRestore(stage, pending string) error {
	h.commit.Lock()
	defer h.commit.Unlock()
	if err := os.RemoveAll(pending); err != nil {
		return fmt.Errorf("replace the pending restore: %w", err)
	}
	if err := os.Rename(stage, pending); err != nil {
		return fmt.Errorf("stage restore: %w", err)
	}
	return record.SyncDir(filepath.Dir(pending))
}

// ApplyPendingRestore installs a restore staged by POST /api/system/restore,
// if there is one beside the database at dbPath; it runs at start, before the
// configuration is read for good and before the database opens. The files
// replaced are kept with the suffix ".before-restore". It reports whether it
// applied one; after a power cut in the middle, the next start finishes it.
func ApplyPendingRestore(dbPath string) (bool, error) {
	pending := filepath.Join(filepath.Dir(dbPath), pendingRestoreDir)
	b, err := os.ReadFile(filepath.Join(pending, restorePlanName))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the pending restore: %w", err)
	}
	var plan restorePlan
	if err := json.Unmarshal(b, &plan); err != nil || plan.Config == "" || plan.Database == "" {
		return false, fmt.Errorf("the pending restore in %s has no valid %s (remove the directory to start without it)", pending, restorePlanName)
	}
	if err := installConfig(filepath.Join(pending, backupConfigName), plan.Config); err != nil {
		return false, err
	}
	if staged := filepath.Join(pending, backupDBName); fileExists(staged) {
		if err := db.Install(staged, plan.Database); err != nil {
			return false, err
		}
	}
	if err := os.RemoveAll(pending); err != nil {
		return false, fmt.Errorf("remove the applied restore: %w", err)
	}
	return true, nil
}

// installConfig writes the staged configuration over target, keeping the
// old one beside it. The configuration may live on another file system than
// the data directory, so it is written, not renamed.
func installConfig(staged, target string) error {
	data, err := os.ReadFile(staged)
	if errors.Is(err, os.ErrNotExist) {
		return nil // installed by an earlier, interrupted start
	}
	if err != nil {
		return fmt.Errorf("restore config: %w", err)
	}
	if old, err := os.ReadFile(target); err == nil && !bytes.Equal(old, data) {
		if err := host.WriteFile(target+".before-restore", old, 0o600); err != nil {
			return fmt.Errorf("restore config: keep the old one: %w", err)
		}
	}
	if err := host.WriteFile(target, data, 0o600); err != nil {
		return fmt.Errorf("restore config: %w", err)
	}
	if err := os.Remove(staged); err != nil {
		return fmt.Errorf("restore config: %w", err)
	}
	return nil
}

// writeStaged writes a staged file to disk (it is checked, then renamed
// into place: it must be whole on disk before that).
func writeStaged(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
