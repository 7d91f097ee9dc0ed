package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/streams"
)

// The stream object and the body of POST and PUT /api/streams are LightNVR's,
// and both come from db.StreamFields: this file names no column.

// streamView is what the stream object is made of for one reader.
type streamView struct {
	row    *db.Stream
	viewer bool
	st     streams.Status
	hls    bool // live HLS is served
}

// streamComputed are the stream object's keys that are not columns, each
// written after the key LightNVR writes it after ("" = at the end, in this
// order). Requests may carry them and they are ignored, because LightNVR's
// UI sends back the object it read.
var streamComputed = []struct {
	key, after string
	omitEmpty  bool
	value      func(v *streamView) any
}{
	{key: "can_control_privacy", after: "privacy_mode", value: func(v *streamView) any { return !v.viewer }},
	{key: "status", value: func(v *streamView) any { return v.st.State.LightNVRStatus() }},
	// State texts may quote go2rtc's errors, and those quote sources.
	{key: "error_message", omitEmpty: true, value: func(v *streamView) any {
		if v.st.State != streams.StateError {
			return ""
		}
		return logx.RedactURL(v.st.Reason)
	}},
	{key: "go2rtc_hls_available", value: func(v *streamView) any { return v.hls && v.st.State == streams.StateActive }},
	// Ours, beside LightNVR's: the state machine's own words.
	{key: "state", value: func(v *streamView) any { return string(v.st.State) }},
	{key: "state_reason", omitEmpty: true, value: func(v *streamView) any { return logx.RedactURL(v.st.Reason) }},
}

// jsonMember is one key of a jsonObject.
type jsonMember struct {
	key string
	val any
}

// jsonObject is a JSON object whose keys keep their order: the members of
// the stream object before streamObject lays them out, and small replies.
type jsonObject []jsonMember

func (o jsonObject) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64*len(o))
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, m.key)
		b = append(b, ':')
		v, err := json.Marshal(m.val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.key, err)
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// streamObject is the stream object a viewer or a writer may see, st being
// the stream's state, as a value encoding/json writes in LightNVR's key order.
func streamObject(row *db.Stream, viewer bool, st streams.Status, liveHLS bool) any {
	l := streamLayout()
	v := reflect.New(l.typ).Elem()
	for _, m := range encodeStream(row, viewer, st, liveHLS) {
		v.Field(l.index[m.key]).Set(reflect.ValueOf(m.val))
	}
	return v.Addr().Interface()
}

// streamLayout is the stream object as a Go struct with a field per key, so
// that encoding/json writes it with its cached encoders instead of checking
// the output of a MarshalJSON (which made an object five times slower). The
// keys and their types are read from the object of a stream in error, the
// one state in which every key is present.
var streamLayout = sync.OnceValue(func() (l struct {
	typ   reflect.Type
	index map[string]int
}) {
	full := encodeStream(db.NewStream("layout", ""), false, streams.Status{State: streams.StateError, Reason: "layout"}, true)
	omit := map[string]bool{}
	for _, c := range streamComputed {
		omit[c.key] = c.omitEmpty
	}
	fields := make([]reflect.StructField, len(full))
	l.index = make(map[string]int, len(full))
	for i, m := range full {
		tag := m.key
		if omit[m.key] {
			tag += ",omitempty"
		}
		fields[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: reflect.TypeOf(m.val), Tag: reflect.StructTag(`json:"` + tag + `"`)}
		l.index[m.key] = i
	}
	l.typ = reflect.StructOf(fields)
	return l
})

// encodeStream lists the members of the stream object a viewer or a writer
// may see, st being the stream's state.
func encodeStream(row *db.Stream, viewer bool, st streams.Status, liveHLS bool) jsonObject {
	v := &streamView{row: row, viewer: viewer, st: st, hls: liveHLS}
	if !viewer {
		shown := *row
		shown.URL = streams.FormURL(row)
		v.row = &shown
	}
	out := make(jsonObject, 0, len(db.StreamFields())+len(streamComputed))
	add := func(key string, val any, omitEmpty bool) {
		if !omitEmpty || val != "" {
			out = append(out, jsonMember{key, val})
		}
	}
	computedAfter := func(key string) {
		for _, c := range streamComputed {
			if c.after == key {
				add(c.key, c.value(v), c.omitEmpty)
			}
		}
	}
	for _, f := range db.StreamFields() {
		if f.Key == "" {
			continue
		}
		add(f.Key, shownValue(f, v), false)
		if f.Present != "" {
			add(f.Present, *f.Addr(v.row).(*string) != "", false)
		}
		computedAfter(f.Key)
	}
	computedAfter("")
	return out
}

// shownValue is a column as the stream object carries it.
func shownValue(f *db.StreamField, v *streamView) any {
	switch p := f.Addr(v.row).(type) {
	case *bool:
		return *p
	case *int:
		return *p
	case *float64:
		if f.Percent {
			return int(math.Round(*p * 100))
		}
		return *p
	case *string:
		switch {
		case f.Schedule:
			return parseSchedule(*p)
		case v.viewer && f.Viewer == db.ViewerHidden:
			return ""
		case v.viewer && f.Viewer == db.ViewerMasked:
			return logx.RedactURL(*p)
		}
		return *p
	}
	panic(fmt.Sprintf("stream column %s: unsupported type %T", f.Column, f.Addr(v.row)))
}

const scheduleSlots = streams.ScheduleSlots

func parseSchedule(s string) []bool {
	sched := streams.ParseSchedule(s)
	return sched[:]
}

func formatSchedule(b []bool) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = "0"
		if v {
			parts[i] = "1"
		}
	}
	return strings.Join(parts, ",")
}

// streamRequest is the body of POST and PUT: any subset of the stream
// object's keys, the name apart, and two keys of PUT's own.
type streamRequest struct {
	Name *string
	// PUT only.
	EnableDisabled *bool
	SetPrivacyMode *bool
	// values are the columns the body sets, in db.StreamFields' order.
	values []requestValue
}

// requestValue is a column a request sets: a bool, int, float64, string or
// (schedules) []bool.
type requestValue struct {
	f *db.StreamField
	v any
}

// requestSlot is one key of the body.
type requestSlot struct {
	key string
	typ reflect.Type
	// set stores the key's value; nil for keys accepted and ignored.
	set func(r *streamRequest, v reflect.Value)
}

// requestSlots are the keys of the body, from the table: the columns, two
// keys of PUT's own, and the keys of the stream object that are no column
// (accepted and ignored, because LightNVR's UI sends back what it read).
var requestSlots = sync.OnceValue(func() []requestSlot {
	column := func(key string, f *db.StreamField) requestSlot {
		return requestSlot{key: key, typ: reflect.PointerTo(requestValueType(f)), set: func(r *streamRequest, v reflect.Value) {
			if f.Ident {
				r.Name = v.Interface().(*string)
				return
			}
			r.values = append(r.values, requestValue{f, v.Elem().Interface()})
		}}
	}
	ignored := func(key string) requestSlot { return requestSlot{key: key, typ: reflect.TypeFor[json.RawMessage]()} }
	var slots []requestSlot
	for _, f := range db.StreamFields() {
		if f.Key == "" {
			continue
		}
		// The alias first: when a body has both keys, the key's value is set last.
		if f.Alias != "" {
			slots = append(slots, column(f.Alias, f))
		}
		slots = append(slots, column(f.Key, f))
		if f.Present != "" {
			slots = append(slots, ignored(f.Present))
		}
	}
	slots = append(slots,
		requestSlot{"enable_disabled", reflect.TypeFor[*bool](),
			func(r *streamRequest, v reflect.Value) { r.EnableDisabled = v.Interface().(*bool) }},
		requestSlot{"set_privacy_mode", reflect.TypeFor[*bool](),
			func(r *streamRequest, v reflect.Value) { r.SetPrivacyMode = v.Interface().(*bool) }})
	for _, c := range streamComputed {
		slots = append(slots, ignored(c.key))
	}
	// LightNVR's UI adds is_deleted:false to every edit it saves; its server
	// reads no such key, and neither do we (enable_disabled restores).
	slots = append(slots, ignored("is_deleted"))
	return slots
})

// requestType is the body as a Go struct with a field per slot, a pointer
// for the keys it stores so that absent and null keys stay nil. encoding/json
// decodes it as it would a declared struct: unknown keys are refused, keys
// match case-insensitively, type errors name the key.
var requestType = sync.OnceValue(func() reflect.Type {
	fields := make([]reflect.StructField, len(requestSlots()))
	for i, s := range requestSlots() {
		fields[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: s.typ, Tag: reflect.StructTag(`json:"` + s.key + `"`)}
	}
	return reflect.StructOf(fields)
})

func requestValueType(f *db.StreamField) reflect.Type {
	if f.Schedule {
		return reflect.TypeFor[[]bool]()
	}
	return reflect.TypeOf(f.Addr(&db.Stream{})).Elem()
}

// readStreamRequest decodes the body of a POST or PUT.
func readStreamRequest(ctx *fasthttp.RequestCtx) (*streamRequest, error) {
	body := reflect.New(requestType())
	if err := decodeJSON(ctx, body.Interface()); err != nil {
		return nil, err
	}
	r := &streamRequest{}
	for i, s := range requestSlots() {
		if v := body.Elem().Field(i); s.set != nil && !v.IsNil() {
			s.set(r, v)
		}
	}
	return r, nil
}

// sets reports whether the body sets the column with this API key.
func (r *streamRequest) sets(key string) bool {
	return slices.ContainsFunc(r.values, func(v requestValue) bool { return v.f.Key == key })
}

// only reports whether every column the body sets is one keep accepts.
func (r *streamRequest) only(keep func(*db.StreamField) bool) bool {
	return !slices.ContainsFunc(r.values, func(v requestValue) bool { return !keep(v.f) })
}

// apply copies the request onto row and checks every value.
func (r *streamRequest) apply(row *db.Stream) error {
	before := *row
	var errs []error
	for _, v := range r.values {
		errs = append(errs, setColumn(row, v.f, v.v))
	}
	for _, f := range db.StreamFields() {
		if len(f.Schemes) > 0 {
			errs = append(errs, checkURLScheme(f.Key, *f.Addr(row).(*string), f.Schemes...))
		}
	}
	errs = append(errs, streams.CheckChange(&before, row)...)
	return errors.Join(errs...)
}

// setColumn checks one value of a request and stores it in row.
func setColumn(row *db.Stream, f *db.StreamField, val any) error {
	if f.Probed {
		return nil
	}
	switch p := f.Addr(row).(type) {
	case *bool:
		*p = val.(bool)
	case *int:
		n := val.(int)
		if f.Ranged && (float64(n) < f.Min || float64(n) > f.Max) {
			return fmt.Errorf("%s must be between %d and %d, not %d", f.Key, int(f.Min), int(f.Max), n)
		}
		*p = n
	case *float64:
		return setFloat(p, f, val.(float64))
	case *string:
		if f.Schedule {
			return setSchedule(p, f, val.([]bool))
		}
		return setText(p, f, val.(string))
	}
	return nil
}

func setFloat(p *float64, f *db.StreamField, x float64) error {
	if f.Percent {
		if math.IsNaN(x) || x < 0 || x > 100 {
			return fmt.Errorf("%s must be a percentage 0-100, not %g", f.Key, x)
		}
		*p = x / 100
		return nil
	}
	if f.Ranged && (math.IsNaN(x) || x < f.Min || x > f.Max) {
		return fmt.Errorf("%s must be between %g and %g", f.Key, f.Min, f.Max)
	}
	*p = x
	return nil
}

func setSchedule(p *string, f *db.StreamField, b []bool) error {
	if len(b) != scheduleSlots {
		return fmt.Errorf("%s must have %d entries (7 days x 24 hours), not %d", f.Key, scheduleSlots, len(b))
	}
	*p = formatSchedule(b)
	return nil
}

func setText(p *string, f *db.StreamField, s string) error {
	if !f.Raw {
		s = strings.TrimSpace(s)
	}
	if f.Lower {
		s = strings.ToLower(s)
	}
	if len(f.OneOf) > 0 && !slices.Contains(f.OneOf, s) {
		last := len(f.OneOf) - 1
		return fmt.Errorf("%s must be %s or %s, not %q", f.Key, strings.Join(f.OneOf[:last], ", "), f.OneOf[last], s)
	}
	*p = s
	return nil
}

func checkURLScheme(field, v string, schemes ...string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s is not a valid URL", field)
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return nil
		}
	}
	return fmt.Errorf("%s must use %s", field, strings.Join(schemes, ", "))
}
