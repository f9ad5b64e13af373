package config

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"

	"github.com/deprov/deprov/connector"
)

// RedactedValue replaces a literal secret wherever configuration is shown.
const RedactedValue = "<redacted>"

var envRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}`)

// IsReference reports whether s is exactly one ${env:NAME} reference: the
// form secrets should take, and the only secret form ever printed back.
func IsReference(s string) bool {
	m := envRef.FindStringIndex(s)
	return m != nil && m[0] == 0 && m[1] == len(s)
}

// Expand replaces every ${env:NAME} in s. A variable that is not set is an
// error naming it (never its value).
func Expand(s string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", missing[0])
	}
	return out, nil
}

// ExpandSettings returns a copy of s with every string value expanded,
// in nested maps and lists too.
func ExpandSettings(s map[string]any) (connector.Settings, error) {
	out, err := expandMap(s)
	return connector.Settings(out), err
}

func expandMap(s map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(s))
	for _, k := range slices.Sorted(maps.Keys(s)) {
		v, err := expandValue(s[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func expandValue(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return Expand(x)
	case map[string]any:
		return expandMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			y, err := expandValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = y
		}
		return out, nil
	}
	return v, nil
}

// secretKeys names the secret settings of a connector type.
func secretKeys(typ string) []string {
	f, ok := connector.Lookup(typ)
	if !ok {
		return nil
	}
	return f.Secrets
}

// redact returns v, or RedactedValue when v is a literal (non-reference)
// secret; in a map of secrets (headers) each value is redacted.
func redact(v any) any {
	switch x := v.(type) {
	case string:
		if x == "" || IsReference(x) {
			return v
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redact(e)
		}
		return out
	}
	return RedactedValue
}

// Redacted returns a deep enough copy of c with every literal secret
// replaced by RedactedValue; ${env:NAME} references are kept, since they
// name a secret without revealing it.
func Redacted(c Config) Config {
	out := c
	out.Applications = slices.Clone(c.Applications)
	for i, a := range out.Applications {
		settings := maps.Clone(a.Connector.Settings)
		for _, k := range secretKeys(a.Connector.Type) {
			if v, ok := settings[k]; ok {
				settings[k] = redact(v)
			}
		}
		out.Applications[i].Connector.Settings = settings
	}
	out.Sources = slices.Clone(c.Sources)
	for i, s := range out.Sources {
		if s.Token != "" {
			out.Sources[i].Token = redact(s.Token).(string)
		}
	}
	return out
}
