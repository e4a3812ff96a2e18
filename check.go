package yardstick

import "time"

// CheckState is the outcome of one check for one entity.
type CheckState string

const (
	// StatePass means the check's expression evaluated to true.
	StatePass CheckState = "pass"
	// StateFail means the check's expression evaluated to false.
	StateFail CheckState = "fail"
	// StateUnknown means a fact or metric the check needs was missing, or the
	// evaluation hit an error or its cost limit. It is never counted as pass or fail.
	StateUnknown CheckState = "unknown"
	// StateExempt means an exemption that has not expired covers the check.
	StateExempt CheckState = "exempt"
)

// Level is a named rung of a scorecard (bronze, silver, gold), ordered by Rank from 1.
// Rank 0 means no level reached.
type Level struct {
	Name string
	Rank int
}

// LevelOrNone names a level reached, "none" for the empty name of no level.
func LevelOrNone(name string) string {
	if name == "" {
		return "none"
	}
	return name
}

// CheckResult is the outcome of one check of one scorecard for one entity in one run.
type CheckResult struct {
	RunID     string
	RunAt     time.Time
	Scorecard string // scorecard id
	CheckID   string
	Entity    EntityRef
	Owner     EntityRef // the owner at scoring time, so squad history survives re-orgs
	Level     string    // the level the check belongs to
	State     CheckState
	Value     string // what the check saw, for the "why do we fail" question
	Message   string // evaluation error or exemption reason
}

// ScoreSummary is the outcome of one scorecard for one entity in one run.
type ScoreSummary struct {
	RunID     string
	RunAt     time.Time
	Scorecard string
	Entity    EntityRef
	Owner     EntityRef
	Level     string  // highest level reached, "" for none
	LevelRank int     // 0 for none
	Score     float64 // weighted percentage of passing checks, 0..100
}
