// Package yardstick holds the domain types that every other package shares:
// catalog entities and their refs, events, facts, check results and levels.
// It imports only the standard library, so any package may depend on it.
package yardstick
