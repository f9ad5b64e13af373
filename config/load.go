package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse reads a YAML configuration strictly: unknown keys are errors.
func Parse(r io.Reader) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, nil
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return Config{}, &ValidationError{Problems: typeProblems(te)}
		}
		return Config{}, &ValidationError{Problems: []Problem{{Path: "(file)", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	return c, nil
}

func typeProblems(te *yaml.TypeError) []Problem {
	out := make([]Problem, 0, len(te.Errors))
	for _, e := range te.Errors {
		out = append(out, Problem{Path: "(file)", Msg: e})
	}
	return out
}

// Marshal writes c as YAML, secrets redacted (see Redacted).
func Marshal(c Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(Redacted(c)); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}
