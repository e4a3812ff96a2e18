package yardstick

import (
	"errors"
	"log/slog"
)

// Sentinel errors shared across packages. Compare with errors.Is.
var (
	// ErrNotFound is returned when an entity, scorecard or other named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid is returned for input that fails validation.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable is returned when a dependency (ClickHouse, a full spool)
	// cannot serve now but may later: the caller should retry after a while.
	// The ui answers it with 503 and Retry-After.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Secret is a string that never appears in logs: slog prints REDACTED in its place.
type Secret string

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// String keeps fmt from printing the secret too.
func (Secret) String() string { return "REDACTED" }

// Reveal returns the secret value, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }
