// Package db opens the SQLite database and migrates its schema.
//
// Per-table queries live beside this file, one file per table. The package
// knows no business rule: it stores and fetches rows.
package db

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
)

// BusyTimeout is how long a statement waits for a lock held by another
// connection or process before failing with SQLITE_BUSY.
const BusyTimeout = 5 * time.Second

// maxOpenConns bounds the pool. In WAL mode readers never block the writer
// nor each other, and SQLite itself serialises writers: transactions start
// with BEGIN IMMEDIATE (the driver's default), so a second writer waits on
// busy_timeout at BEGIN instead of failing on a lock upgrade. A small pool
// keeps concurrent readers possible (API, diag) while bounding the memory
// every connection costs (its own SQLite instance and page cache) on a
// 256 MB device. Code holding a transaction must run its queries on the Tx:
// with every connection taken, a query on the DB would wait for itself.
const maxOpenConns = 4

// connMaxIdle closes a connection nobody used for this long. Each one is a
// SQLite instance of its own with its own page cache (up to 2 MB once the
// tables are large); a burst of API requests opens up to maxOpenConns, and
// without this every one of them stayed for the daemon's life. A recording
// daemon keeps one open anyway: part indexes are saved every second. A
// variable so a test need not wait a minute.
var connMaxIdle = time.Minute

// IsBusy reports whether err is SQLite's "database is locked": another
// connection or process held the lock longer than BusyTimeout. Trying
// again later may work; nothing was written.
func IsBusy(err error) bool {
	return errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)
}

// DB is an open database. Its connection pool is not exported: every read
// and write is a named function or method of this package, so the SQL of
// the whole program lives here.
type DB struct {
	pool *sql.DB
	path string
	// committed is when a transaction last committed (Unix nanoseconds):
	// proof the database makes progress even while a check of it cannot
	// get the write lock.
	committed atomic.Int64
}

// LastCommit is when a transaction of this package (inTx: every multi-row
// write, the part indexes saved each second among them) last committed;
// the zero time if none has. Single-statement writes do not count.
func (d *DB) LastCommit() time.Time {
	if n := d.committed.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Open opens (creating if absent) the database at path, with WAL journaling,
// synchronous=FULL, foreign keys and a busy timeout on every connection.
// FULL because in WAL mode NORMAL syncs only at checkpoints: a power cut
// then loses every commit since the last one (streams just added, the rows
// of recordings whose files did survive), the database merely consistent.
// A new database also gets auto_vacuum=INCREMENTAL, which only takes effect
// before the first table exists.
//
// A file that is not an SQLite database, or is shorter than its header
// declares, is refused before SQLite touches it, so Open never modifies
// such a file.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sqldb, err := driver.Open(path, initConn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(maxOpenConns)
	sqldb.SetMaxIdleConns(maxOpenConns)
	sqldb.SetConnMaxIdleTime(connMaxIdle)
	d := &DB{pool: sqldb, path: path}
	// database/sql opens lazily; read the schema now so a bad file or a
	// missing directory fails here, not at the first query.
	var n int
	if err := sqldb.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return d, nil
}

// Path returns the file the database was opened from.
func (d *DB) Path() string { return d.path }

// Ping checks that the database answers (the health check).
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database %s: %w", d.path, err)
	}
	return nil
}

// OpenConnections is how many connections the pool holds (benchmarks
// report it).
func (d *DB) OpenConnections() int { return d.pool.Stats().OpenConnections }

// initConn runs once on every new connection of the pool.
func initConn(c *sqlite3.Conn) error {
	if err := c.BusyTimeout(BusyTimeout); err != nil {
		return fmt.Errorf("set busy_timeout: %w", err)
	}
	pages, err := pragmaInt(c, `PRAGMA page_count`)
	if err != nil {
		return err
	}
	if pages == 0 {
		// Only a brand-new file: on an existing database without
		// auto-vacuum the setting would do nothing, and switching an
		// existing FULL database would rewrite its header.
		if err := c.Exec(`PRAGMA auto_vacuum=INCREMENTAL`); err != nil {
			return fmt.Errorf("set auto_vacuum: %w", err)
		}
	}
	for _, p := range []string{
		`PRAGMA journal_mode=WAL`,
		`PRAGMA synchronous=FULL`,
		`PRAGMA foreign_keys=ON`,
	} {
		if err := c.Exec(p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func pragmaInt(c *sqlite3.Conn, q string) (int64, error) {
	stmt, _, err := c.Prepare(q)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	defer func() { _ = stmt.Close() }()
	var v int64
	if stmt.Step() {
		v = stmt.ColumnInt64(0)
	}
	if err := stmt.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	return v, nil
}

// Close checkpoints the WAL into the main file and truncates it, so a
// closed database is one self-contained file, then closes every connection.
func (d *DB) Close() error {
	var errs []error
	if _, err := d.pool.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint %s: %w", d.path, err))
	}
	if err := d.pool.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close database %s: %w", d.path, err))
	}
	return errors.Join(errs...)
}

// QuickCheck runs PRAGMA quick_check and returns its verdict: "ok", or the
// problems found, one per line. It reads the whole file, so it is for
// diagnostics, not for every start.
func (d *DB) QuickCheck(ctx context.Context) (string, error) {
	lines, err := queryAll(ctx, d, "quick_check "+d.path, scanOne[string], `PRAGMA quick_check`)
	if err != nil {
		return "", err
	}
	return strings.Join(lines, "\n"), nil
}

// Errors of Open for files it refuses before handing them to SQLite.
var (
	// ErrNotADatabase reads like SQLite's own message for the same condition.
	ErrNotADatabase = errors.New("file is not a database")
	// ErrTruncated marks a database file shorter than its header declares.
	ErrTruncated = errors.New("database file is truncated")
)

const sqliteHeaderSize = 100

// checkFile looks at the database header before SQLite opens the file.
// SQLite reads a truncated file's missing pages as zeros and reports
// corruption only when a query reaches them; catching it here gives one
// clear error at start-up and leaves the file untouched.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // SQLite creates it
	}
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	size := st.Size()
	if size == 0 {
		return nil // SQLite treats an empty file as a new database
	}
	var h [sqliteHeaderSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w (%d bytes, shorter than a header)", ErrNotADatabase, size)
		}
		return err
	}
	if !bytes.Equal(h[:16], []byte("SQLite format 3\x00")) {
		return ErrNotADatabase
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w (invalid page size %d)", ErrNotADatabase, pageSize)
	}
	// After a power cut in the middle of a checkpoint (or of a commit in
	// rollback-journal mode) the main file can be shorter than its already
	// rewritten first page says; the WAL (or hot journal) still holds what
	// SQLite needs to recover. Only without one is a short file truncated.
	for _, side := range []string{"-wal", "-journal"} {
		if st, err := os.Stat(path + side); err == nil && st.Size() > 0 {
			return nil
		}
	}
	// The page count in the header is only valid when the change counter
	// matches version-valid-for (otherwise SQLite uses the file size).
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if pages > 0 && bytes.Equal(h[24:28], h[92:96]) && size < pages*pageSize {
		return fmt.Errorf("%w: header declares %d pages of %d bytes (%d bytes), file has %d bytes",
			ErrTruncated, pages, pageSize, pages*pageSize, size)
	}
	return nil
}
