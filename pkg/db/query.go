package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// sqlConn runs statements: the pool or a transaction. It is what Querier
// hands to this package's queries and to nobody else.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (d *DB) conn() sqlConn { return d.pool }

// Tx is a transaction, begun by DB.Begin. Pass it where a Querier is
// asked for to bracket several writes (and their side effects elsewhere).
type Tx struct{ tx *sql.Tx }

func (t *Tx) conn() sqlConn { return t.tx }

// Begin starts a transaction. With BEGIN IMMEDIATE (the driver's default)
// it takes the write lock now, waiting up to BusyTimeout for it.
func (d *DB) Begin(ctx context.Context) (*Tx, error) {
	tx, err := d.pool.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction on %s: %w", d.path, err)
	}
	return &Tx{tx: tx}, nil
}

// Commit makes the transaction's writes durable.
func (t *Tx) Commit() error {
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback drops the transaction's writes; after Commit it does nothing.
func (t *Tx) Rollback() error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction and commits when fn returns nil.
func (d *DB) inTx(ctx context.Context, fn func(q Querier) error) error {
	tx, err := d.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.committed.Store(time.Now().UnixNano())
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

// scanOne reads a single column of type T.
func scanOne[T any](r rowScanner) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}

// queryRow scans the one row query yields; no row is notFound, wrapped
// with what the caller looked for.
func queryRow[T any](ctx context.Context, q Querier, scan func(rowScanner) (T, error), what string, notFound error,
	query string, args ...any) (T, error) {
	v, err := scan(q.conn().QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		err = notFound
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// queryValue returns the single value query yields.
func queryValue[T any](ctx context.Context, q Querier, query string, args ...any) (T, error) {
	return scanOne[T](q.conn().QueryRowContext(ctx, query, args...))
}

// exec runs a statement and returns how many rows it changed.
func exec(ctx context.Context, q Querier, query string, args ...any) (int64, error) {
	return execRead(ctx, q, sql.Result.RowsAffected, query, args...)
}

// execRead runs a statement and reads one figure of its result.
func execRead(ctx context.Context, q Querier, read func(sql.Result) (int64, error), query string, args ...any) (int64, error) {
	res, err := q.conn().ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return read(res)
}

// scanFields makes the scan function of a row whose columns go, in order,
// to the fields of a T that ptrs lists.
func scanFields[T any](ptrs func(*T) []any) func(rowScanner) (T, error) {
	return func(r rowScanner) (T, error) {
		var v T
		err := r.Scan(ptrs(&v)...)
		return v, err
	}
}

// insert runs an INSERT and returns the new row's id.
func insert(ctx context.Context, q Querier, query string, args ...any) (int64, error) {
	return execRead(ctx, q, sql.Result.LastInsertId, query, args...)
}
