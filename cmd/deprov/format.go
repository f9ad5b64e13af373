package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// jsonFields flattens a struct's JSON form into strings, for tables.
func jsonFields(v any) (map[string]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out, nil
}

// when formats a time for tables, in the local zone of the terminal.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
