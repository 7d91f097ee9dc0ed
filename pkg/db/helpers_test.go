package db

import (
	"context"
	"testing"
)

// mustQuery returns every row of query as scan reads it; a failure ends
// the test.
func mustQuery[T any](t testing.TB, q Querier, scan func(rowScanner) (T, error), query string, args ...any) []T {
	t.Helper()
	out, err := queryAll(context.Background(), q, "test query", scan, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
