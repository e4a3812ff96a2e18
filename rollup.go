package yardstick

// ScoreRollup counts the entities of one owner at one level of one
// scorecard, by their latest score summaries: pages aggregate it instead of
// reading every summary.
type ScoreRollup struct {
	Scorecard string
	Owner     EntityRef
	LevelRank int
	Entities  int
	ScoreSum  float64 // sum of the entities' scores (0..100 each)
}

// ScoreMove is an entity whose latest score on a scorecard differs from its
// score at an earlier time.
type ScoreMove struct {
	Scorecard string
	Entity    EntityRef
	Owner     EntityRef
	FromLevel string
	ToLevel   string
	From      float64
	To        float64
}
