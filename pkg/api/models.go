package api

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/detect"
)

// modelJSON is one detector of /api/detection/models.
type modelJSON struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Path              string `json:"path"`
	Type              string `json:"type"`
	Supported         bool   `json:"supported"`
	UnsupportedReason string `json:"unsupported_reason,omitempty"`
	Size              int64  `json:"size,omitempty"`
	Description       string `json:"description,omitempty"`
}

// builtinModels are the detectors that need no model file.
var builtinModels = []modelJSON{
	{ID: "motion", Name: "Motion", Path: "motion", Type: "motion", Supported: true,
		Description: "Motion measured in the compressed stream, without decoding"},
	{ID: detect.SnapshotMotionModel, Name: "Snapshot motion", Path: detect.SnapshotMotionModel, Type: "motion", Supported: true,
		Description: "Motion in go2rtc's pictures of the stream, about one a second, compared as small grey grids inside the zones"},
	{ID: "api", Name: "External detector", Path: "api", Type: "api", Supported: true,
		Description: "Frames posted to the HTTP detector of [api_detection] or the stream's detection URL"},
	{ID: "onvif", Name: "ONVIF events", Path: "onvif", Type: "onvif",
		Supported:   true,
		Description: "The camera's own motion and analytics events"},
}

const noInference = "models run in an external detector: this build has no in-process inference"

func (h *detectionHandler) handleModels(ctx *fasthttp.RequestCtx) {
	models := slices.Clone(builtinModels)
	out := map[string]any{"litert_available": false, "sod_available": false}
	dir := h.modelsDir()
	files, err := modelFiles(dir)
	if err != nil {
		out["message"] = "models directory cannot be read"
		h.log.Warn("list models", "dir", dir, "err", err)
	}
	models = append(models, files...)
	out["models"], out["count"] = models, len(models)
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// modelFiles lists the model files of dir; a missing directory has none.
func modelFiles(dir string) ([]modelJSON, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []modelJSON
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, modelJSON{ID: e.Name(), Name: e.Name(), Path: filepath.Join(dir, e.Name()),
			Type: modelType(e.Name()), UnsupportedReason: noInference, Size: info.Size()})
	}
	return out, nil
}

func modelType(name string) string {
	switch {
	case strings.HasSuffix(name, ".tflite"):
		return "tflite"
	case strings.Contains(name, ".sod"):
		return "sod"
	case strings.HasSuffix(name, ".onnx"):
		return "onnx"
	}
	return "unknown"
}
