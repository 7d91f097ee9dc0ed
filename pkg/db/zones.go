package db

import (
	"context"
	"errors"
	"fmt"
)

// ErrZoneIDTaken is returned when a zone id is already used by another
// stream: detection_zones.id is unique across all streams.
var ErrZoneIDTaken = errors.New("zone id is used by another stream")

// Zone is one row of detection_zones. Polygon is the JSON array text as
// stored ('[{"x":0.1,"y":0.2},…]'); FilterClasses is a csv of labels.
type Zone struct {
	ID            string
	StreamName    string
	Name          string
	Enabled       bool
	Color         string
	Polygon       string
	FilterClasses string
	MinConfidence float64
}

var scanZone = scanFields(func(z *Zone) []any {
	return []any{&z.ID, &z.StreamName, &z.Name, &z.Enabled, &z.Color, &z.Polygon, &z.FilterClasses, &z.MinConfidence}
})

// StreamZones returns the zones of stream in the order they were saved.
func StreamZones(ctx context.Context, q Querier, stream string) ([]Zone, error) {
	return queryAll(ctx, q, fmt.Sprintf("zones of %s", stream), scanZone,
		`SELECT id, stream_name, name, COALESCE(enabled, 1), COALESCE(color, '#3b82f6'), polygon,
		COALESCE(filter_classes, ''), COALESCE(min_confidence, 0)
		FROM detection_zones WHERE stream_name = ? ORDER BY rowid`, stream)
}

// ReplaceZones makes zones the stream's only zones, in one transaction.
// An id another stream uses fails the whole replacement with ErrZoneIDTaken.
func ReplaceZones(ctx context.Context, d *DB, stream string, zones []Zone) error {
	err := d.inTx(ctx, func(q Querier) error {
		if _, err := DeleteZones(ctx, q, stream); err != nil {
			return err
		}
		for _, z := range zones {
			n, err := exec(ctx, q, `INSERT INTO detection_zones
				(id, stream_name, name, enabled, color, polygon, filter_classes, min_confidence)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				z.ID, stream, z.Name, z.Enabled, z.Color, z.Polygon, z.FilterClasses, z.MinConfidence)
			if err != nil {
				return fmt.Errorf("insert zone %q: %w", z.ID, err)
			}
			if n == 0 {
				return fmt.Errorf("zone %q: %w", z.ID, ErrZoneIDTaken)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replace zones of %s: %w", stream, err)
	}
	return nil
}

// DeleteZones removes every zone of stream and says how many there were.
func DeleteZones(ctx context.Context, q Querier, stream string) (int64, error) {
	n, err := exec(ctx, q, `DELETE FROM detection_zones WHERE stream_name = ?`, stream)
	if err != nil {
		return 0, fmt.Errorf("delete zones of %s: %w", stream, err)
	}
	return n, nil
}
