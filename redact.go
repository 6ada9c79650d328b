package webhook

import (
	"encoding/json"
	"fmt"
)

// marshalRedactions checks an endpoint's RedactFields and marshals each
// replacement once, at New, so that redaction on the hot path is a copy.
// Errors name the model and field, never the replacement value.
func marshalRedactions(rf map[string]map[string]any) (map[string]map[string][]byte, error) {
	out := make(map[string]map[string][]byte, len(rf))
	for label, fields := range rf {
		if err := checkRuleLabel(label); err != nil {
			return nil, fmt.Errorf("redact_fields: %w", err)
		}
		m := make(map[string][]byte, len(fields))
		for path, v := range fields {
			if err := checkPath(path); err != nil {
				return nil, fmt.Errorf("redact_fields[%q]: %w", label, err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("redact_fields[%q][%q]: replacement of type %T cannot be serialised", label, path, v)
			}
			m[path] = b
		}
		out[label] = m
	}
	return out, nil
}
