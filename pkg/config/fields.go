package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// field describes one INI key, derived once from the struct tags.
type field struct {
	section  string
	key      string
	aliases  []string
	env      []string // LightNVR's historical names, without the LIGHTNVR_ prefix
	index    []int    // reflect field index path from Config
	kind     reflect.Kind
	min, max *float64
	enum     []string
	required bool
	secret   bool
}

// id is the "section.key" name used in maps and messages.
func (f *field) id() string { return f.section + "." + f.key }

// names returns the primary key followed by its aliases.
func (f *field) names() []string { return append([]string{f.key}, f.aliases...) }

// genericEnv is LIGHTNVR_<SECTION>_<KEY> for a key name.
func (f *field) genericEnv(key string) string {
	return strings.ToUpper(f.section + "_" + key)
}

var (
	fields    []*field
	bySection = map[string]map[string]*field{} // section → key or alias → field
	sections  []string                         // in struct order
)

func init() {
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		sf := t.Field(i)
		sec := sf.Tag.Get("ini")
		if sec == "" || !sf.IsExported() {
			continue
		}
		sections = append(sections, sec)
		bySection[sec] = map[string]*field{}
		st := sf.Type
		for j := range st.NumField() {
			kf := st.Field(j)
			f := &field{
				section:  sec,
				key:      kf.Tag.Get("ini"),
				index:    []int{i, j},
				kind:     kf.Type.Kind(),
				required: kf.Tag.Get("required") == "true",
				secret:   kf.Tag.Get("secret") == "true",
			}
			if f.key == "" {
				panic(fmt.Sprintf("config: %s.%s has no ini tag", sf.Name, kf.Name))
			}
			if a := kf.Tag.Get("alias"); a != "" {
				f.aliases = strings.Split(a, ",")
			}
			if e := kf.Tag.Get("env"); e != "" {
				f.env = strings.Split(e, ",")
			}
			if e := kf.Tag.Get("enum"); e != "" {
				f.enum = strings.Split(e, "|")
			}
			f.min = tagFloat(kf, "min")
			f.max = tagFloat(kf, "max")
			switch f.kind {
			case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
			default:
				panic(fmt.Sprintf("config: %s.%s has unsupported type %s", sf.Name, kf.Name, kf.Type))
			}
			for _, n := range f.names() {
				if _, dup := bySection[sec][n]; dup {
					panic("config: duplicate key " + sec + "." + n)
				}
				bySection[sec][n] = f
			}
			fields = append(fields, f)
		}
	}
	envNames = buildEnvNames()
}

func tagFloat(sf reflect.StructField, tag string) *float64 {
	s := sf.Tag.Get(tag)
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(fmt.Sprintf("config: bad %s tag on %s: %v", tag, sf.Name, err))
	}
	return &v
}

// value is the addressable struct field of f in c.
func (f *field) value(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(f.index)
}

// parse converts raw text to a value of the field's type. It checks syntax
// only; ranges are Validate's job so they are reported for env and file alike.
func (f *field) parse(raw string) (reflect.Value, error) {
	switch f.kind {
	case reflect.String:
		return reflect.ValueOf(raw), nil
	case reflect.Bool:
		b, ok := parseBool(raw)
		if !ok {
			return reflect.Value{}, fmt.Errorf("%q is not a boolean (use true/false, yes/no, on/off, 1/0)", raw)
		}
		return reflect.ValueOf(b), nil
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return reflect.Value{}, fmt.Errorf("%q is out of range", raw)
			}
			return reflect.Value{}, fmt.Errorf("%q is not an integer", raw)
		}
		if f.kind == reflect.Int {
			if n != int64(int(n)) {
				return reflect.Value{}, fmt.Errorf("%q is out of range", raw)
			}
			return reflect.ValueOf(int(n)), nil
		}
		return reflect.ValueOf(n), nil
	case reflect.Float64:
		v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return reflect.Value{}, fmt.Errorf("%q is not a number", raw)
		}
		return reflect.ValueOf(v), nil
	}
	panic("unreachable")
}

// set parses raw and stores it in c.
func (f *field) set(c *Config, raw string) error {
	v, err := f.parse(raw)
	if err != nil {
		return err
	}
	f.value(c).Set(v)
	return nil
}

// format renders the field's current value in c the way Save writes it.
func (f *field) format(c *Config) string { return formatValue(f.value(c)) }

func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	}
	panic("unreachable")
}

// number returns the numeric value of a numeric field.
func (f *field) number(c *Config) float64 {
	v := f.value(c)
	if v.Kind() == reflect.Float64 {
		return v.Float()
	}
	return float64(v.Int())
}

// parseBool accepts LightNVR's true/1 and the usual spellings, nothing else:
// a typo must not silently turn a feature off.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}

// lookupField finds a field by section and key (or alias).
func lookupField(section, key string) *field {
	return bySection[section][key]
}

// fieldByID finds a field by its "section.key" id.
func fieldByID(id string) *field {
	sec, key, _ := strings.Cut(id, ".")
	return lookupField(sec, key)
}
