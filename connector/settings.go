package connector

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// IsReference reports whether a setting still holds an unexpanded
// ${env:NAME} reference: validation sees settings before expansion and
// must not judge a value it cannot see.
func IsReference(v string) bool { return strings.Contains(v, "${") }

// String reads a text setting; absent is "".
func (s Settings) String(key string) (string, error) {
	switch v := s[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("must be a string, got %T", v)
	}
}

// Int reads a whole number as YAML, JSON or an expanded reference gives
// it; ok is false when it is absent or still a reference.
func (s Settings) Int(key string) (n int, ok bool, err error) {
	switch v := s[key].(type) {
	case nil:
		return 0, false, nil
	case int:
		return v, true, nil
	case int64:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return 0, false, fmt.Errorf("out of range: %d", v)
		}
		return int(v), true, nil
	case uint64:
		if v > math.MaxInt32 {
			return 0, false, fmt.Errorf("out of range: %d", v)
		}
		return int(v), true, nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > math.MaxInt32 {
			return 0, false, fmt.Errorf("must be a whole number, got %v", v)
		}
		return int(v), true, nil
	case string:
		if IsReference(v) {
			return 0, false, nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, false, fmt.Errorf("must be a whole number, got %q", v)
		}
		return n, true, nil
	default:
		return 0, false, fmt.Errorf("must be a whole number, got %T", v)
	}
}

// Bool reads a true/false setting; ok is false when it is absent or still
// a reference.
func (s Settings) Bool(key string) (b, ok bool, err error) {
	switch v := s[key].(type) {
	case nil:
		return false, false, nil
	case bool:
		return v, true, nil
	case string:
		if IsReference(v) {
			return false, false, nil
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, false, fmt.Errorf("must be true or false, got %q", v)
		}
		return b, true, nil
	default:
		return false, false, fmt.Errorf("must be true or false, got %T", v)
	}
}

// Unknown returns one error per setting not in known ("type" is always
// allowed), sorted by key, each naming the settings there are.
func (s Settings) Unknown(known ...string) []error {
	var keys []string
	for k := range s {
		if k != "type" && !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	errs := make([]error, 0, len(keys))
	for _, k := range keys {
		errs = append(errs, fmt.Errorf("%s: unknown setting (known: %s)", k, strings.Join(known, ", ")))
	}
	return errs
}
