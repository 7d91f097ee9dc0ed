package detect

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/event"
	"lightnvr/pkg/httpclient"
	"lightnvr/pkg/logx"
)

const (
	// maxReply bounds a detector's answer: a frame's boxes are a few KB, so
	// anything near this is not a reply and must not fill the memory.
	maxReply = 1 << 20
	// maxDetections bounds what one frame contributes; the most confident
	// are kept.
	maxDetections = 20
	// maxLabel bounds a label; longer ones are garbage.
	maxLabel = 64
	// boxSlack is how far outside the frame a box edge may lie (detectors
	// round letterboxed boxes outwards) before the box is taken for pixels,
	// not fractions.
	boxSlack = 0.1
)

// poster speaks LightNVR's [api_detection] contract: POST
// <url>?backend=<b>&confidence_threshold=<0.xx>&return_image=false with the
// JPEG as multipart field "file"; the reply is {"detections":[{"label",
// "confidence","bounding_box":{"x_min","y_min","x_max","y_max"}}]} with the
// box in fractions of the frame.
type poster struct {
	endpoint string
	err      error // a URL that cannot be posted to fails every round
	timeout  time.Duration
	hc       *httpclient.Client
}

func newPoster(opt ExternalOptions) *poster {
	p := &poster{
		timeout: opt.Timeout,
		hc:      httpclient.New(httpclient.Options{MaxBody: maxReply}),
	}
	p.endpoint, p.err = endpoint(opt)
	return p
}

func endpoint(opt ExternalOptions) (string, error) {
	u, err := url.Parse(opt.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("detector URL %q is not an http(s) URL", logx.RedactURL(opt.URL))
	}
	q := u.Query()
	if opt.Backend != "" {
		q.Set("backend", opt.Backend)
	}
	q.Set("confidence_threshold", strconv.FormatFloat(opt.Threshold, 'f', 2, 64))
	q.Set("return_image", "false")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (p *poster) close() { p.hc.CloseIdle() }

// detect posts one JPEG and returns the detector's boxes.
func (p *poster) detect(ctx context.Context, jpeg []byte) ([]event.Detection, error) {
	if p.err != nil {
		return nil, p.err
	}
	body, ctype, err := multipartFrame(jpeg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, resp := new(fasthttp.Request), new(fasthttp.Response)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(p.endpoint)
	req.Header.SetContentType(ctype)
	req.Header.Set(fasthttp.HeaderAccept, "application/json")
	req.SetBody(body)
	if err := p.hc.Do(ctx, req, resp); err != nil {
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			return nil, fmt.Errorf("detector reply larger than %d bytes", maxReply)
		}
		return nil, p.transportError(ctx, err)
	}
	reply := resp.Body()
	if status := resp.StatusCode(); status/100 != 2 {
		return nil, fmt.Errorf("detector answered %d: %s", status, excerpt(reply))
	}
	return parseReply(reply)
}

// transportError names a timeout as one; the error never quotes the URL,
// which may carry a password.
func (p *poster) transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("detector did not answer within %s", p.timeout)
	}
	return fmt.Errorf("detector: %w", err)
}

func multipartFrame(jpeg []byte) ([]byte, string, error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="frame.jpg"`)
	h.Set("Content-Type", "image/jpeg")
	part, err := w.CreatePart(h)
	if err == nil {
		_, err = part.Write(jpeg)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, "", fmt.Errorf("detector request body: %w", err)
	}
	return b.Bytes(), w.FormDataContentType(), nil
}

// excerpt is the start of a reply fit for a status line: one line, valid
// UTF-8, short.
func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), 120)]), "?")
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(empty)"
	}
	return logx.RedactURL(s)
}

// reply is the detector's answer; pointers tell a missing field from a zero.
type reply struct {
	Detections *[]replyDetection `json:"detections"`
}

type replyDetection struct {
	Label       string   `json:"label"`
	Confidence  *float64 `json:"confidence"`
	BoundingBox *struct {
		XMin *float64 `json:"x_min"`
		YMin *float64 `json:"y_min"`
		XMax *float64 `json:"x_max"`
		YMax *float64 `json:"y_max"`
	} `json:"bounding_box"`
	TrackID *int `json:"track_id"`
}

// parseReply reads a detector's JSON answer. An answer that is not the
// contract's object, or holds an entry without a label, a confidence in 0..1
// or a box in fractions of the frame, is an error as a whole: such a detector
// is misconfigured, and guessing at its boxes would record the wrong things.
func parseReply(b []byte) ([]event.Detection, error) {
	var r reply
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("detector reply is not the expected JSON: %w (reply starts %q)", err, excerpt(b))
	}
	if r.Detections == nil {
		return nil, fmt.Errorf("detector reply has no detections list (reply starts %q)", excerpt(b))
	}
	out := make([]event.Detection, 0, len(*r.Detections))
	for i, d := range *r.Detections {
		det, err := d.detection()
		if err != nil {
			return nil, fmt.Errorf("detector reply: detection %d: %w", i, err)
		}
		out = append(out, det)
	}
	return out, nil
}

func (d replyDetection) detection() (event.Detection, error) {
	label := strings.TrimSpace(d.Label)
	if label == "" || len(label) > maxLabel || !utf8.ValidString(label) {
		return event.Detection{}, fmt.Errorf("label %q is not a class name", excerpt([]byte(d.Label)))
	}
	if d.Confidence == nil || !(*d.Confidence >= 0 && *d.Confidence <= 1) {
		return event.Detection{}, errors.New("confidence missing or outside 0..1")
	}
	bb := d.BoundingBox
	if bb == nil || bb.XMin == nil || bb.YMin == nil || bb.XMax == nil || bb.YMax == nil {
		return event.Detection{}, errors.New("bounding_box needs x_min, y_min, x_max and y_max")
	}
	x0, x1, okX := span(*bb.XMin, *bb.XMax)
	y0, y1, okY := span(*bb.YMin, *bb.YMax)
	if !okX || !okY {
		return event.Detection{}, fmt.Errorf("bounding_box (%g,%g)-(%g,%g) is not in fractions of the frame",
			*bb.XMin, *bb.YMin, *bb.XMax, *bb.YMax)
	}
	track := -1
	if d.TrackID != nil && *d.TrackID >= 0 {
		track = *d.TrackID
	}
	return event.Detection{
		Label: label, Confidence: *d.Confidence, TrackID: track,
		X: x0, Y: y0, Width: x1 - x0, Height: y1 - y0,
	}, nil
}

// span checks one axis of a box and clamps it to the frame.
func span(lo, hi float64) (float64, float64, bool) {
	if !(lo >= -boxSlack && hi <= 1+boxSlack && lo <= hi) {
		return 0, 0, false
	}
	return min(max(lo, 0), 1), min(max(hi, 0), 1), true
}

// strongest keeps the detections at or above threshold, at most
// maxDetections of them, the most confident first when some must go.
func strongest(dets []event.Detection, threshold float64) []event.Detection {
	kept := slices.DeleteFunc(dets, func(d event.Detection) bool { return d.Confidence < threshold })
	if len(kept) <= maxDetections {
		return kept
	}
	slices.SortStableFunc(kept, func(a, b event.Detection) int { return cmp.Compare(b.Confidence, a.Confidence) })
	return kept[:maxDetections]
}
