package db

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Visibility says what a viewer sees of a column in the API.
type Visibility int

const (
	ViewerSees   Visibility = iota // the stored value
	ViewerHidden                   // the empty string
	ViewerMasked                   // the value with its passwords masked
)

// StreamField is one column of streams as Stream's tag describes it:
//
//	stream:"column[,option…]"
//
//	id            the row id: read, never written, not in the API
//	ident         the stream's name: written once, never updated
//	key=K         the API's key, when it is not the column's name
//	alias=K       a second key a request may use (key wins when both are given)
//	internal      stored for LightNVR, not in the API
//	default=V     a new stream's value, and what NULL reads as (else the zero value)
//	null=V        what NULL (a row of an older LightNVR) reads as, when not the default
//	min=N,max=N   the range a request may set
//	oneof=a|b     the values a request may set
//	schemes=a|b   the URL schemes the column may hold after a request
//	percent       the API shows and takes 0–100 for the stored 0–1
//	schedule      168 hourly flags ("1,0,…", NULL for every hour); the API uses a bool array
//	lower         a request's value is lower-cased
//	raw           a request's value keeps its edge spaces (text is trimmed otherwise)
//	probed        measured from the camera: a request may carry it and it is ignored
//	present=K     the API also shows, under K, whether the value is set
//	viewer=hide   viewers get "" (credentials, and URLs that may carry them)
//	viewer=redact viewers get the value with its passwords masked
//	retention     also read and written by the stream's retention route
type StreamField struct {
	Column  string
	Key     string // the API's key; "" when the API does not carry the column
	Alias   string
	ID      bool
	Ident   bool
	Percent bool
	// Schedule: the text is 168 comma-separated 0/1 flags.
	Schedule bool
	Lower    bool
	Raw      bool
	Probed   bool
	// Retention: the stream's retention route reads and writes it too.
	Retention bool
	// Ranged: Min and Max bound what a request may set.
	Ranged   bool
	Min, Max float64
	OneOf    []string
	Schemes  []string
	Present  string
	Viewer   Visibility

	index   int
	dflt    reflect.Value
	nullSQL string // the SQL literal NULL reads as
}

// Addr points at the field's value in s: a *bool, *int, *float64 or *string.
func (f *StreamField) Addr(s *Stream) any {
	return reflect.ValueOf(s).Elem().Field(f.index).Addr().Interface()
}

// StreamFields lists the columns of streams in Stream's order, read once
// from its tags.
var StreamFields = sync.OnceValue(func() []*StreamField {
	t := reflect.TypeFor[Stream]()
	out := make([]*StreamField, 0, t.NumField())
	for i := range t.NumField() {
		f, err := parseStreamField(t.Field(i))
		if err != nil {
			panic(fmt.Sprintf("db.Stream.%s: %v", t.Field(i).Name, err))
		}
		f.index = i
		out = append(out, f)
	}
	return out
})

func parseStreamField(sf reflect.StructField) (*StreamField, error) {
	tag, ok := sf.Tag.Lookup("stream")
	if !ok {
		return nil, fmt.Errorf("no stream tag")
	}
	col, opts, _ := strings.Cut(tag, ",")
	f := &StreamField{Column: col, Key: col}
	dflt, null, hasNull, internal := "", "", false, false
	flags := map[string]*bool{"internal": &internal, "id": &f.ID, "ident": &f.Ident, "percent": &f.Percent, "schedule": &f.Schedule,
		"lower": &f.Lower, "raw": &f.Raw, "probed": &f.Probed, "retention": &f.Retention}
	values := map[string]func(v string) error{
		"key":     func(v string) error { f.Key = v; return nil },
		"alias":   func(v string) error { f.Alias = v; return nil },
		"present": func(v string) error { f.Present = v; return nil },
		"default": func(v string) error { dflt = v; return nil },
		"null":    func(v string) error { null, hasNull = v, true; return nil },
		"oneof":   func(v string) error { f.OneOf = strings.Split(v, "|"); return nil },
		"schemes": func(v string) error { f.Schemes = strings.Split(v, "|"); return nil },
		"min":     func(v string) (err error) { f.Ranged = true; f.Min, err = strconv.ParseFloat(v, 64); return err },
		"max":     func(v string) (err error) { f.Ranged = true; f.Max, err = strconv.ParseFloat(v, 64); return err },
		"viewer":  func(v string) (err error) { f.Viewer, err = parseVisibility(v); return err },
	}
	for opt := range strings.SplitSeq(opts, ",") {
		name, val, isValue := strings.Cut(opt, "=")
		if opt == "" {
			continue
		}
		if flag, ok := flags[name]; ok && !isValue {
			*flag = true
			continue
		}
		set, ok := values[name]
		if !ok || !isValue {
			return nil, fmt.Errorf("tag %q: unknown option %q", tag, opt)
		}
		if err := set(val); err != nil {
			return nil, fmt.Errorf("tag %q: %s: %w", tag, name, err)
		}
	}
	if f.ID || internal {
		f.Key = "" // not in the API
	}
	if !hasNull {
		null = dflt
	}
	var err error
	if f.dflt, err = parseValue(sf.Type, dflt); err != nil {
		return nil, fmt.Errorf("tag %q: default: %w", tag, err)
	}
	nv, err := parseValue(sf.Type, null)
	if err != nil {
		return nil, fmt.Errorf("tag %q: null: %w", tag, err)
	}
	f.nullSQL = sqlLiteral(nv)
	if f.Viewer != ViewerSees && sf.Type.Kind() != reflect.String {
		return nil, fmt.Errorf("tag %q: viewer= applies to text only", tag)
	}
	return f, nil
}

func parseVisibility(v string) (Visibility, error) {
	switch v {
	case "hide":
		return ViewerHidden, nil
	case "redact":
		return ViewerMasked, nil
	}
	return 0, fmt.Errorf("viewer=%q: want hide or redact", v)
}

// parseValue reads a tag's value as t; "" is the zero value.
func parseValue(t reflect.Type, s string) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	if s == "" {
		return v, nil
	}
	var err error
	switch t.Kind() {
	case reflect.Bool:
		var b bool
		b, err = strconv.ParseBool(s)
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var n int64
		n, err = strconv.ParseInt(s, 10, 64)
		v.SetInt(n)
	case reflect.Float64:
		var x float64
		x, err = strconv.ParseFloat(s, 64)
		v.SetFloat(x)
	case reflect.String:
		v.SetString(s)
	default:
		err = fmt.Errorf("unsupported type %s", t)
	}
	return v, err
}

func sqlLiteral(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return "1"
		}
		return "0"
	case reflect.String:
		return "'" + strings.ReplaceAll(v.String(), "'", "''") + "'"
	default:
		return fmt.Sprint(v.Interface())
	}
}
