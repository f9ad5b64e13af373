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

// ExpandSettings returns a copy of s with every string value expanded.
func ExpandSettings(s map[string]any) (connector.Settings, error) {
	out := make(connector.Settings, len(s))
	for _, k := range slices.Sorted(maps.Keys(s)) {
		v := s[k]
		if str, ok := v.(string); ok {
			x, err := Expand(str)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			v = x
		}
		out[k] = v
	}
	return out, nil
}

// secretKeys names the secret settings of a connector type.
func secretKeys(typ string) []string {
	f, ok := connector.Lookup(typ)
	if !ok {
		return nil
	}
	return f.Secrets
}

// redact returns v, or RedactedValue when v is a literal (non-reference) secret.
func redact(v any) any {
	if s, ok := v.(string); ok && (s == "" || IsReference(s)) {
		return v
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
