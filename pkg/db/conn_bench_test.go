package db

import (
	"context"
	"testing"
)

// BenchmarkOpenConnection measures what a new connection of the pool costs
// before its first answer: SQLite's open, initConn's pragmas and the parse
// of the whole schema, which every new connection does at its first
// statement. The pool's idle policy (connMaxIdle) trades this against the
// memory of connections kept open.
func BenchmarkOpenConnection(b *testing.B) {
	ctx := context.Background()
	path := openMigrated(b).Path()
	b.ReportAllocs()
	for b.Loop() {
		d, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		// The pool alone: DB.Close would add a checkpoint to every round.
		if err := d.pool.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
