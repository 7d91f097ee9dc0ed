package db

import (
	"context"
	"fmt"
)

// StreamSummary is what the diagnostics report lists of a stream. Its
// query names only columns every LightNVR schema has, so it reads a
// database this build has not migrated.
type StreamSummary struct {
	Name    string
	URL     string
	Enabled bool
}

// StreamSummaries returns every stream by name.
func StreamSummaries(ctx context.Context, q Querier) ([]StreamSummary, error) {
	return queryAll(ctx, q, "list streams", scanFields(func(s *StreamSummary) []any { return []any{&s.Name, &s.URL, &s.Enabled} }), `SELECT name, url, enabled FROM streams ORDER BY name`)
}

// UsageSince returns, per stream, the recordings that started at or after
// since (Unix seconds) and their bytes, by stream name.
func UsageSince(ctx context.Context, q Querier, since int64) ([]Usage, error) {
	return queryAll(ctx, q, fmt.Sprintf("recordings since %d", since), scanFields(func(u *Usage) []any { return []any{&u.StreamName, &u.Count, &u.Bytes} }), `SELECT stream_name, count(*), coalesce(sum(size_bytes), 0)
		FROM recordings WHERE start_time >= ? GROUP BY stream_name ORDER BY stream_name`, since)
}

// SchemaVersion returns the newest migration applied ("" for none).
func (d *DB) SchemaVersion(ctx context.Context) (string, error) {
	v, err := queryValue[string](ctx, d, `SELECT coalesce(max(version), '') FROM schema_migrations`)
	if err != nil {
		return "", fmt.Errorf("schema version of %s: %w", d.path, err)
	}
	return v, nil
}
