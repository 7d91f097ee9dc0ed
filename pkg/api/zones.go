package api

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
)

// zonesHandler serves a stream's detection zones.
type zonesHandler struct {
	*streamsHandler
}

var zoneRoutes = []endpoint[*zonesHandler]{
	{"GET", "/api/streams/{name}/zones", auth.AccessViewer, (*zonesHandler).handleGetZones},
	{"POST", "/api/streams/{name}/zones", auth.AccessWriter, (*zonesHandler).handleSetZones},
	{"DELETE", "/api/streams/{name}/zones", auth.AccessWriter, (*zonesHandler).handleDeleteZones},
}

const (
	defaultZoneColor = "#3b82f6"
	maxZoneID        = 64
	maxZoneName      = 128
)

var zoneColorRe = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

// zoneJSON is a zone as LightNVR's API carries it.
type zoneJSON struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Enabled       *bool          `json:"enabled,omitempty"` // absent: enabled
	Color         string         `json:"color"`
	Polygon       []detect.Point `json:"polygon"`
	FilterClasses string         `json:"filter_classes"`
	MinConfidence float64        `json:"min_confidence"`
}

func (h *zonesHandler) handleGetZones(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	rows, err := db.StreamZones(requestContext(ctx), h.db, s.Name)
	if err != nil {
		h.fail(ctx, "list zones", err)
		return
	}
	out := make([]zoneJSON, 0, len(rows))
	for _, r := range rows {
		pts, err := detect.ParsePolygon(r.Polygon)
		if err != nil {
			h.fail(ctx, "list zones", err)
			return
		}
		out = append(out, zoneJSON{ID: r.ID, Name: r.Name, Enabled: &r.Enabled, Color: r.Color, Polygon: pts,
			FilterClasses: r.FilterClasses, MinConfidence: r.MinConfidence})
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"zones": out})
}

func (h *zonesHandler) handleSetZones(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	var body struct {
		Zones *[]zoneJSON `json:"zones"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	if body.Zones == nil {
		writeError(ctx, fasthttp.StatusBadRequest, "zones is required: send {\"zones\": []} to remove every zone")
		return
	}
	rows, err := zoneRows(*body.Zones)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	err = db.ReplaceZones(requestContext(ctx), h.db, s.Name, rows)
	if errors.Is(err, db.ErrZoneIDTaken) {
		err = &statusError{status: fasthttp.StatusConflict, msg: "a zone id is already used by another stream: zone ids are unique"}
	}
	if err != nil {
		h.fail(ctx, "save zones", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Zones saved successfully", "count": len(rows)})
}

// zoneRows checks the zones of a request and turns them into rows. As in
// LightNVR, an entry without id, name or polygon is skipped.
func zoneRows(zones []zoneJSON) ([]db.Zone, error) {
	if len(zones) > detect.MaxZones {
		return nil, fmt.Errorf("%d zones: a stream has at most %d", len(zones), detect.MaxZones)
	}
	var rows []db.Zone
	seen := map[string]bool{}
	for _, z := range zones {
		if z.ID == "" || z.Name == "" || len(z.Polygon) == 0 {
			continue
		}
		if err := checkZone(z, seen); err != nil {
			return nil, fmt.Errorf("zone %q: %w", z.ID, err)
		}
		seen[z.ID] = true
		row := db.Zone{ID: z.ID, Name: z.Name, Enabled: z.Enabled == nil || *z.Enabled, Color: z.Color,
			Polygon: detect.EncodePolygon(z.Polygon), FilterClasses: strings.Join(detect.SplitLabels(z.FilterClasses), ","),
			MinConfidence: z.MinConfidence}
		if row.Color == "" {
			row.Color = defaultZoneColor
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func checkZone(z zoneJSON, seen map[string]bool) error {
	switch {
	case seen[z.ID]:
		return errors.New("the id is given twice")
	case len(z.ID) > maxZoneID:
		return fmt.Errorf("the id is longer than %d characters", maxZoneID)
	case len(z.Name) > maxZoneName:
		return fmt.Errorf("the name is longer than %d characters", maxZoneName)
	case z.Color != "" && !zoneColorRe.MatchString(z.Color):
		return fmt.Errorf("color %q is not #rrggbb", z.Color)
	case !(z.MinConfidence >= 0 && z.MinConfidence <= 1):
		return fmt.Errorf("min_confidence %g is not within 0..1", z.MinConfidence)
	}
	return detect.CheckPolygon(z.Polygon)
}

func (h *zonesHandler) handleDeleteZones(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	if _, err := db.DeleteZones(requestContext(ctx), h.db, s.Name); err != nil {
		h.fail(ctx, "delete zones", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Zones deleted successfully"})
}
