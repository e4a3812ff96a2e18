// Package e2e tests the yardstick binary as a user runs it: a real process
// built from cmd/yardstick, on a real ClickHouse, killed with a real SIGKILL
// where a test says so. It has no code of its own outside its tests.
package e2e
