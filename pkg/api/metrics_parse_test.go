package api

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// promSample is one sample line of the Prometheus text format.
type promSample struct {
	labels map[string]string
	value  float64
}

// promFamily is a metric family: its TYPE, HELP and samples.
type promFamily struct {
	typ, help string
	samples   []promSample
}

// sample returns the value of the sample with exactly these labels.
func (f *promFamily) sample(labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, s := range f.samples {
		if maps.Equal(s.labels, want) {
			return s.value, true
		}
	}
	return 0, false
}

var (
	promName  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	promTypes = []string{"counter", "gauge", "histogram", "summary", "untyped"}
)

// parseProm parses the text exposition format 0.0.4 strictly: HELP and
// TYPE at most once per family and before its samples, a family's samples
// together, valid names, labels and escapes, no repeated series, counters
// not negative, and a final newline.
func parseProm(body string) (map[string]*promFamily, error) {
	if !strings.HasSuffix(body, "\n") {
		return nil, fmt.Errorf("the body does not end with a newline")
	}
	fams := map[string]*promFamily{}
	fam := func(name string) *promFamily {
		if fams[name] == nil {
			fams[name] = &promFamily{}
		}
		return fams[name]
	}
	series := map[string]bool{}
	done := map[string]bool{} // families whose samples ended
	last := ""
	for n, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", n+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "# HELP "), strings.HasPrefix(line, "# TYPE "):
			f := strings.SplitN(line[2:], " ", 3)
			if len(f) < 3 || !promName.MatchString(f[1]) {
				return nil, bad("malformed")
			}
			p := fam(f[1])
			if len(p.samples) > 0 {
				return nil, bad("%s after the family's samples", f[0])
			}
			if f[0] == "HELP" {
				if p.help != "" {
					return nil, bad("second HELP")
				}
				if err := checkEscapes(f[2]); err != nil {
					return nil, bad("%v", err)
				}
				p.help = f[2]
				continue
			}
			if p.typ != "" {
				return nil, bad("second TYPE")
			}
			if !slices.Contains(promTypes, f[2]) {
				return nil, bad("unknown type %q", f[2])
			}
			p.typ = f[2]
		case strings.HasPrefix(line, "#"):
			continue
		default:
			name, s, key, err := parseSample(line)
			if err != nil {
				return nil, bad("%v", err)
			}
			if name != last {
				if done[name] {
					return nil, bad("samples of %s are not together", name)
				}
				done[last], last = true, name
			}
			if series[key] {
				return nil, bad("repeated series")
			}
			series[key] = true
			p := fam(name)
			if p.typ == "counter" && s.value < 0 {
				return nil, bad("negative counter")
			}
			p.samples = append(p.samples, s)
		}
	}
	return fams, nil
}

// parseSample reads name{labels} value [timestamp]; key identifies the series.
func parseSample(line string) (string, promSample, string, error) {
	s := promSample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 || !promName.MatchString(line[:i]) {
		return "", s, "", fmt.Errorf("bad metric name")
	}
	name, rest := line[:i], line[i:]
	if rest[0] == '{' {
		var err error
		if rest, err = parseLabels(rest[1:], s.labels); err != nil {
			return "", s, "", err
		}
	}
	f := strings.Split(strings.TrimPrefix(rest, " "), " ")
	if !strings.HasPrefix(rest, " ") || len(f) < 1 || len(f) > 2 {
		return "", s, "", fmt.Errorf("want one space, a value and an optional timestamp")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil && f[0] != "NaN" && f[0] != "+Inf" && f[0] != "-Inf" {
		return "", s, "", fmt.Errorf("value %q", f[0])
	}
	if math.IsNaN(v) && f[0] != "NaN" {
		return "", s, "", fmt.Errorf("value %q", f[0])
	}
	s.value = v
	if len(f) == 2 {
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			return "", s, "", fmt.Errorf("timestamp %q", f[1])
		}
	}
	key := name
	for _, k := range slices.Sorted(maps.Keys(s.labels)) {
		key += "\x00" + k + "=" + s.labels[k]
	}
	return name, s, key, nil
}

// parseLabels reads label="value",… up to the closing brace.
func parseLabels(rest string, into map[string]string) (string, error) {
	for {
		if strings.HasPrefix(rest, "}") {
			return rest[1:], nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || !promLabel.MatchString(rest[:eq]) || len(rest) < eq+2 || rest[eq+1] != '"' {
			return "", fmt.Errorf("bad label at %q", rest)
		}
		label := rest[:eq]
		if _, dup := into[label]; dup {
			return "", fmt.Errorf("label %s twice", label)
		}
		var val strings.Builder
		j := eq + 2
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\n' {
				return "", fmt.Errorf("raw newline in a label value")
			}
			if rest[j] == '\\' {
				j++
				switch {
				case j >= len(rest):
					return "", fmt.Errorf("escape at the end")
				case rest[j] == 'n':
					val.WriteByte('\n')
				case rest[j] == '\\', rest[j] == '"':
					val.WriteByte(rest[j])
				default:
					return "", fmt.Errorf(`bad escape \%c`, rest[j])
				}
				continue
			}
			val.WriteByte(rest[j])
		}
		if j >= len(rest) {
			return "", fmt.Errorf("unterminated label value")
		}
		into[label] = val.String()
		rest = rest[j+1:]
		switch {
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
		case strings.HasPrefix(rest, "}"):
		default:
			return "", fmt.Errorf("want , or } after label %s", label)
		}
	}
}

// checkEscapes allows only \\ and \n, the escapes of a HELP text.
func checkEscapes(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++
		if i >= len(s) || !(s[i] == '\\' || s[i] == 'n') {
			return fmt.Errorf("bad escape in %q", s)
		}
	}
	return nil
}
