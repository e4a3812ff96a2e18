// Package scheduler runs named jobs on intervals until its context ends. Each
// job has one goroutine that runs it, waits, and runs it again, so two runs of
// the same job never overlap; a "run now" request while a run is going is
// folded into one run after it. The scheduler knows no job by name.
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
)

// ErrSkipped, wrapped in a job's error, says the job did not run (e.g. its
// previous run, started elsewhere, was still going): logged, not a failure.
var ErrSkipped = errors.New("skipped")

// Job is one scheduled task. Run gets a context that ends with the scheduler.
type Job struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
	// RunAtStart runs the job once as soon as the scheduler starts.
	RunAtStart bool
}

// Status is what the scheduler says about one job.
type Status struct {
	Name     string
	Interval time.Duration
	Running  bool
	LastRun  time.Time
	LastErr  string
	NextRun  time.Time
	Runs     int
}

// Scheduler runs jobs on intervals. Safe for concurrent use.
type Scheduler struct {
	logger *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	jobs map[string]*entry
}

type entry struct {
	Job
	trigger chan struct{}

	mu     sync.Mutex
	status Status
}

// New returns an empty scheduler.
func New(logger *slog.Logger, now func() time.Time) *Scheduler {
	return &Scheduler{logger: logger, now: now, jobs: map[string]*entry{}}
}

// Add schedules j. It returns an error wrapping yardstick.ErrInvalid when j has
// no name, no run function or no positive interval, or its name is taken.
func (s *Scheduler) Add(j Job) error {
	if j.Name == "" || j.Run == nil || j.Interval <= 0 {
		return fmt.Errorf("job %q: name, run function and a positive interval are required: %w", j.Name, yardstick.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.jobs[j.Name]; dup {
		return fmt.Errorf("job %q: scheduled twice: %w", j.Name, yardstick.ErrInvalid)
	}
	s.jobs[j.Name] = &entry{Job: j, trigger: make(chan struct{}, 1), status: Status{Name: j.Name, Interval: j.Interval}}
	return nil
}

// Run runs every job until ctx ends, then waits for the runs in progress
// (which see ctx end) and returns.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	jobs := make([]*entry, 0, len(s.jobs))
	for _, j := range s.jobs {
		jobs = append(jobs, j)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, j)
		}()
	}
	wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, j *entry) {
	if j.RunAtStart {
		s.runOnce(ctx, j)
	}
	for {
		j.mu.Lock()
		j.status.NextRun = s.now().Add(j.Interval)
		j.mu.Unlock()
		t := time.NewTimer(j.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-j.trigger:
			t.Stop()
		}
		s.runOnce(ctx, j)
	}
}

func (s *Scheduler) runOnce(ctx context.Context, j *entry) {
	if ctx.Err() != nil {
		return
	}
	j.mu.Lock()
	j.status.Running = true
	j.mu.Unlock()
	start := s.now()
	err := j.Run(ctx)
	j.mu.Lock()
	j.status.Running, j.status.LastRun, j.status.Runs = false, start, j.status.Runs+1
	j.status.LastErr = ""
	if err != nil {
		j.status.LastErr = err.Error()
	}
	j.mu.Unlock()
	log := s.logger.With("job", j.Name)
	switch {
	case err == nil:
		log.InfoContext(ctx, "job done", "duration", s.now().Sub(start))
	case errors.Is(err, ErrSkipped):
		log.InfoContext(ctx, "job skipped", "err", err)
	case ctx.Err() != nil:
		log.InfoContext(ctx, "job stopped by shutdown", "err", err)
	default:
		log.WarnContext(ctx, "job failed", "err", err)
	}
}

// RunNow asks for a run of the job as soon as it is free. It never blocks. It
// returns an error wrapping yardstick.ErrNotFound for an unknown job.
func (s *Scheduler) RunNow(name string) error {
	s.mu.Lock()
	j, ok := s.jobs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("job %q: %w", name, yardstick.ErrNotFound)
	}
	select {
	case j.trigger <- struct{}{}:
	default: // a run is already requested
	}
	return nil
}

// Jobs reports every job's state, by name.
func (s *Scheduler) Jobs() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.jobs))
	for _, j := range s.jobs {
		j.mu.Lock()
		out = append(out, j.status)
		j.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Sleep waits d, or until ctx ends, then returning ctx.Err(). A d of zero or
// less returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
