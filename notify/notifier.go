package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/scheduler"
)

// Ledger records deliveries. AppendDeliveries stamps rows with the ledger's
// own clock; Deliveries returns every row of the deliveries in (delivery,
// attempt, time, token) order with that clock's now. Both are safe for
// concurrent use by several processes.
type Ledger interface {
	AppendDeliveries(ctx context.Context, recs []yardstick.DeliveryRecord) error
	Deliveries(ctx context.Context, deliveries []string) ([]yardstick.DeliveryRecord, time.Time, error)
}

// Sender delivers a notification to one address of its channel (a Slack
// channel, e-mail addresses; webhooks ignore it). delivery is the stable
// identity of this delivery, for receivers that deduplicate. Send must
// return before ctx ends.
type Sender interface {
	Send(ctx context.Context, to string, n Notification, delivery string) error
}

// Sources is what the notifier reads. Metrics may be nil (digests then leave
// DORA out).
type Sources struct {
	Catalog    CatalogReader
	Changes    ChangeReader
	Campaigns  CampaignReader
	Digests    DigestReader
	Metrics    MetricReader
	Collectors CollectorLog
	Ledger     Ledger
	// Rules returns the current notification rules and scorecards/campaigns.
	Rules func() (*Rules, *checks.RuleSet)
}

// Config tunes a notifier.
type Config struct {
	Instance    string        // names this instance in the ledger; random when empty
	BaseURL     string        // public URL of the dashboards, for links; "" for none
	Lookback    time.Duration // how far back level and check changes are looked for; at least the longest quiet hours
	Lease       time.Duration // how long a claim holds before another instance may retry it
	Settle      time.Duration // wait between claiming and reading which claim won
	SendTimeout time.Duration // cap on one send
	MaxAttempts int           // attempts before a delivery is abandoned
	RetryBase   time.Duration // wait after the first failure, doubling per attempt
	RetryMax    time.Duration
	Concurrency int // sends at once
	// MaxPerTarget caps the deliveries one tick claims for one target (a
	// Slack channel, an address); the rest go out on later ticks, so a burst
	// (a fact source down, a new scorecard) trickles instead of flooding.
	MaxPerTarget int
	Default      Route
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	c.Lookback = cmp.Or(c.Lookback, 24*time.Hour)
	c.Lease = cmp.Or(c.Lease, 2*time.Minute)
	c.Settle = cmp.Or(c.Settle, 2*time.Second)
	c.SendTimeout = cmp.Or(c.SendTimeout, 30*time.Second)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 8)
	c.RetryBase = cmp.Or(c.RetryBase, time.Minute)
	c.RetryMax = cmp.Or(c.RetryMax, time.Hour)
	c.Concurrency = cmp.Or(c.Concurrency, 4)
	c.MaxPerTarget = cmp.Or(c.MaxPerTarget, 20)
	if c.Instance == "" {
		c.Instance = randomToken()[:12]
	}
	return c
}

// Validate reports settings that would break exactly-once delivery.
func (c Config) Validate() error {
	if c.Settle < time.Second {
		return fmt.Errorf("notify settle %v: must be at least 1s (the ledger clock has second resolution): %w", c.Settle, yardstick.ErrInvalid)
	}
	if c.Lease < c.Settle+c.SendTimeout+5*time.Second {
		return fmt.Errorf("notify lease %v: must exceed settle + send_timeout + 5s (%v): %w", c.Lease, c.Settle+c.SendTimeout+5*time.Second, yardstick.ErrInvalid)
	}
	return nil
}

// Notifier finds notifications and delivers them. Safe for concurrent use;
// several notifiers (processes) may share one ledger.
type Notifier struct {
	cfg     Config
	src     Sources
	senders map[string]Sender
	logger  *slog.Logger
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
}

// New builds a notifier. senders maps "slack", "email" and "webhook:NAME" to
// their channel; deliveries to a channel without a sender are skipped with a
// warning (and shown as no-sender by Preview).
func New(cfg Config, src Sources, senders map[string]Sender, logger *slog.Logger, now func() time.Time) *Notifier {
	return &Notifier{cfg: cfg.WithDefaults(), src: src, senders: senders, logger: logger, now: now, sleep: scheduler.Sleep}
}

// Delivery is a notification bound for one target.
type Delivery struct {
	ID           string
	Notification Notification
	Target       Target
	Rules        []string // names of the rules that asked for it
	// QuietUntil is when the target's quiet hours end, zero outside them.
	QuietUntil time.Time
	render     func(ctx context.Context) (Message, error)
}

// Render fills in the message's body where it is built on demand (digests),
// reading the store.
func (d *Delivery) Render(ctx context.Context) error {
	if d.render == nil {
		return nil
	}
	m, err := d.render(ctx)
	if err != nil {
		return fmt.Errorf("render %s of %s: %w", d.Notification.Trigger, d.Notification.Subject, err)
	}
	d.Notification.Message, d.render = m, nil
	return nil
}

// Evaluate returns what is due at now, routed: every delivery that rules ask
// for, including ones already sent (the ledger decides that) and ones held by
// quiet hours. Ordered by group, trigger, subject and target. When a trigger
// cannot be evaluated, the others' deliveries are returned with its error.
func (n *Notifier) Evaluate(ctx context.Context, now time.Time) ([]Delivery, error) {
	rules, ruleSet := n.src.Rules()
	if rules == nil || len(rules.Rules) == 0 {
		return nil, nil
	}
	if ruleSet == nil {
		ruleSet = &checks.RuleSet{}
	}
	entities, err := n.src.Catalog.Entities(ctx)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	org := yardstick.NewOrganisation(entities)
	ev := &evaluation{n: n, now: now.UTC(), rules: rules, ruleSet: ruleSet, entities: entities,
		byRef: make(map[yardstick.EntityRef]yardstick.Entity, len(entities)), router: newRouter(org, n.cfg.Default, rules.TimeZone), org: org}
	for _, e := range entities {
		ev.byRef[e.Ref] = e
	}
	// One failing trigger (a store read) does not hold back the others: what
	// was found is returned with the errors joined.
	var (
		cands []candidate
		errs  []error
	)
	for _, step := range []struct {
		name string
		run  func(context.Context, *[]candidate) error
	}{{"level changes", ev.levelChanges}, {"check transitions", ev.checkTransitions}, {"campaigns", ev.campaigns}, {"collectors", ev.collectors}, {"digests", ev.digests}} {
		var found []candidate
		if err := step.run(ctx, &found); err != nil {
			errs = append(errs, fmt.Errorf("notify %s: %w", step.name, err))
			continue
		}
		cands = append(cands, found...)
	}
	byID := map[string]int{}
	var out []Delivery
	for _, c := range cands {
		for i := range rules.Rules {
			r := &rules.Rules[i]
			if !n.ruleTakes(r, c, ev) {
				continue
			}
			var quietUntil time.Time
			if r.QuietHours.Contains(ev.now.In(ev.router.location(c.Group))) {
				quietUntil = quietEnd(ev.now, ev.router.location(c.Group), r.QuietHours)
			}
			for _, ch := range r.Channels {
				t, ok := ev.router.target(c.Group, ch)
				if !ok {
					n.logger.WarnContext(ctx, "notification has no route", "rule", r.Name, "group", c.Group, "channel", ch, "trigger", c.Trigger)
					continue
				}
				id := deliveryID(c.ID, t)
				if j, seen := byID[id]; seen {
					out[j].Rules = append(out[j].Rules, r.Name)
					if quietUntil.IsZero() {
						out[j].QuietUntil = time.Time{}
					}
					continue
				}
				byID[id] = len(out)
				out = append(out, Delivery{ID: id, Notification: c.Notification, Target: t, Rules: []string{r.Name}, QuietUntil: quietUntil, render: c.render})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Delivery) int {
		return cmp.Or(cmp.Compare(a.Notification.Group, b.Notification.Group), cmp.Compare(a.Notification.Trigger, b.Notification.Trigger),
			cmp.Compare(a.Notification.Subject, b.Notification.Subject), cmp.Compare(a.Notification.Period, b.Notification.Period), cmp.Compare(a.Target.String(), b.Target.String()))
	})
	return out, errors.Join(errs...)
}

// ruleTakes reports whether the rule asks for the candidate.
func (n *Notifier) ruleTakes(r *Rule, c candidate, ev *evaluation) bool {
	switch c.Trigger {
	case TriggerCollectorFailing:
		return slices.Contains(r.Triggers, c.Trigger) && c.streak >= r.FailingRuns
	case TriggerDeadlineNear:
		// Only the tightest of the rule's lead times that has been reached.
		var tightest time.Duration
		for _, l := range r.LeadTimes {
			if !ev.now.Before(c.deadline.Add(-l)) && (tightest == 0 || l < tightest) {
				tightest = l
			}
		}
		if tightest != c.lead {
			return false
		}
	case TriggerDigest, TriggerTribeDigest:
		if c.digest != r.Digest {
			return false
		}
	}
	return r.matches(c.Notification, ev.router.ancestors)
}

// quietEnd returns when the quiet hours that contain now end.
func quietEnd(now time.Time, loc *time.Location, q *QuietHours) time.Time {
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	end := midnight.Add(q.End)
	if !end.After(local) {
		end = midnight.AddDate(0, 0, 1).Add(q.End)
	}
	return end.UTC()
}

func deliveryID(notification string, t Target) string {
	h := sha256.Sum256([]byte(notification + "\x00" + t.String()))
	return hex.EncodeToString(h[:16])
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Ledger states of a delivery, as Preview reports them.
const (
	StateDue       = "due"       // would be sent now
	StateSent      = "sent"      // already sent
	StateQuiet     = "quiet"     // held by quiet hours
	StateRetry     = "retry"     // failed; waiting to retry
	StateInFlight  = "in-flight" // another instance holds the claim
	StateAbandoned = "abandoned" // failed on every attempt
	StateNoSender  = "no-sender" // the channel is not configured
)

// ledgerView is what the ledger says about one delivery.
type ledgerView struct {
	state   string
	attempt int // the attempt to claim next, when state is StateDue
	sentAt  time.Time
	after   time.Time // retry or lease end
}

// view decides a delivery's state from its ledger rows (in ledger order).
func (n *Notifier) view(rows []yardstick.DeliveryRecord, now time.Time) ledgerView {
	last := 0
	var winner, failed *yardstick.DeliveryRecord
	for i := range rows {
		r := &rows[i]
		switch r.Kind {
		case yardstick.DeliverySent:
			return ledgerView{state: StateSent, sentAt: r.At}
		case yardstick.DeliveryAbandoned:
			return ledgerView{state: StateAbandoned}
		}
		if r.Attempt > last {
			last, winner, failed = r.Attempt, nil, nil
		}
		if r.Attempt == last {
			switch r.Kind {
			case yardstick.DeliveryClaim:
				if winner == nil {
					winner = r
				}
			case yardstick.DeliveryFailed:
				failed = r
			}
		}
	}
	switch {
	case last == 0:
		return ledgerView{state: StateDue, attempt: 1}
	case failed != nil:
		retry := failed.At.Add(time.Duration(failed.RetrySeconds) * time.Second)
		if now.Before(retry) {
			return ledgerView{state: StateRetry, after: retry}
		}
		return ledgerView{state: StateDue, attempt: last + 1}
	case winner != nil:
		end := winner.At.Add(time.Duration(winner.LeaseSeconds) * time.Second)
		if now.Before(end) {
			return ledgerView{state: StateInFlight, after: end}
		}
		return ledgerView{state: StateDue, attempt: last + 1}
	}
	return ledgerView{state: StateDue, attempt: last + 1}
}

func groupRows(rows []yardstick.DeliveryRecord) map[string][]yardstick.DeliveryRecord {
	m := map[string][]yardstick.DeliveryRecord{}
	for _, r := range rows {
		m[r.Delivery] = append(m[r.Delivery], r)
	}
	return m
}

// Planned is a delivery with its ledger state, as Preview returns it.
type Planned struct {
	Delivery
	State string
	At    time.Time // sent at, retry after, or lease end
}

// Preview returns what Evaluate finds at now with what the ledger says of each.
func (n *Notifier) Preview(ctx context.Context, now time.Time) ([]Planned, error) {
	ds, evalErr := n.Evaluate(ctx, now)
	if evalErr != nil && len(ds) == 0 {
		return nil, evalErr
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	rows, clock, err := n.src.Ledger.Deliveries(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("notify preview: %w", err)
	}
	by := groupRows(rows)
	out := make([]Planned, len(ds))
	for i, d := range ds {
		v := n.view(by[d.ID], clock)
		p := Planned{Delivery: d, State: v.state, At: cmp.Or(v.sentAt, v.after)}
		switch {
		case p.State == StateDue && !d.QuietUntil.IsZero():
			p.State, p.At = StateQuiet, d.QuietUntil
		case p.State == StateDue && n.senders[d.Target.senderKey()] == nil:
			p.State = StateNoSender
		}
		if p.State == StateDue || p.State == StateQuiet || p.State == StateNoSender {
			if err := p.Render(ctx); err != nil {
				evalErr = errors.Join(evalErr, err)
			}
		}
		out[i] = p
	}
	return out, evalErr
}

func (t Target) senderKey() string {
	if t.Channel == ChannelWebhook {
		return ChannelWebhook + ":" + t.Address
	}
	return t.Channel
}

// TickReport is what one Tick did.
type TickReport struct {
	Due, Claimed, Won, Sent, Failed int
	Held                            int // due but over MaxPerTarget: left for the next tick
}

// Tick delivers what is due now: it claims each due delivery in the ledger,
// waits for concurrent claims to land, sends the ones whose claim won, and
// records the outcome. A delivery is sent by one instance once; a failed one
// is retried on a later tick after a backoff, up to MaxAttempts.
func (n *Notifier) Tick(ctx context.Context) (TickReport, error) {
	var rep TickReport
	ds, evalErr := n.Evaluate(ctx, n.now())
	if evalErr != nil {
		n.logger.WarnContext(ctx, "notifications partly evaluated", "err", evalErr)
	}
	var ids []string
	byID := map[string]Delivery{}
	for _, d := range ds {
		if !d.QuietUntil.IsZero() {
			continue
		}
		if n.senders[d.Target.senderKey()] == nil {
			n.logger.WarnContext(ctx, "no sender for channel", "channel", d.Target.senderKey(), "delivery", d.ID)
			continue
		}
		ids = append(ids, d.ID)
		byID[d.ID] = d
	}
	if len(ids) == 0 {
		return rep, evalErr
	}
	rows, clock, err := n.src.Ledger.Deliveries(ctx, ids)
	if err != nil {
		return rep, fmt.Errorf("notify: %w", err)
	}
	by := groupRows(rows)
	var claims []yardstick.DeliveryRecord
	mine := map[string]string{} // delivery → my token
	perTarget := map[string]int{}
	for _, id := range ids {
		v := n.view(by[id], clock)
		if v.state != StateDue {
			continue
		}
		rep.Due++
		t := byID[id].Target.String()
		if perTarget[t] >= n.cfg.MaxPerTarget {
			rep.Held++
			continue
		}
		perTarget[t]++
		tok := randomToken()
		mine[id] = tok
		claims = append(claims, n.record(byID[id], v.attempt, yardstick.DeliveryClaim, tok, ""))
	}
	if len(claims) == 0 {
		return rep, evalErr
	}
	if err := n.src.Ledger.AppendDeliveries(ctx, claims); err != nil {
		return rep, fmt.Errorf("notify claim: %w", err)
	}
	rep.Claimed = len(claims)
	if err := n.sleep(ctx, n.cfg.Settle); err != nil {
		return rep, err
	}
	claimed := make([]string, 0, len(mine))
	for id := range mine {
		claimed = append(claimed, id)
	}
	slices.Sort(claimed)
	rows, clock, err = n.src.Ledger.Deliveries(ctx, claimed)
	if err != nil {
		return rep, fmt.Errorf("notify: %w", err)
	}
	by = groupRows(rows)
	type job struct {
		d       Delivery
		attempt int
		token   string
		timeout time.Duration
	}
	var jobs []job
	for _, id := range claimed {
		won, attempt, until := winning(by[id], mine[id])
		if !won {
			continue
		}
		// Send only while the claim holds, with room to record the outcome.
		left := until.Sub(clock) - 5*time.Second
		if left <= 0 {
			n.logger.WarnContext(ctx, "claim expired before sending", "delivery", id)
			continue
		}
		jobs = append(jobs, job{byID[id], attempt, mine[id], min(left, n.cfg.SendTimeout)})
	}
	rep.Won = len(jobs)
	var (
		mu       sync.Mutex
		outcomes []yardstick.DeliveryRecord
		wg       sync.WaitGroup
		sem      = make(chan struct{}, n.cfg.Concurrency)
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, j.timeout)
			err := j.d.Render(sctx)
			if err == nil {
				err = n.senders[j.d.Target.senderKey()].Send(sctx, j.d.Target.Address, j.d.Notification, j.d.ID)
			}
			cancel()
			var recs []yardstick.DeliveryRecord
			if err == nil {
				recs = append(recs, n.record(j.d, j.attempt, yardstick.DeliverySent, j.token, ""))
				n.logger.InfoContext(ctx, "notification sent", "delivery", j.d.ID, "trigger", j.d.Notification.Trigger, "target", j.d.Target.String(), "attempt", j.attempt)
			} else {
				n.logger.WarnContext(ctx, "notification failed", "delivery", j.d.ID, "target", j.d.Target.String(), "attempt", j.attempt, "err", err)
				f := n.record(j.d, j.attempt, yardstick.DeliveryFailed, j.token, err.Error())
				f.RetrySeconds = int(n.backoff(j.attempt) / time.Second)
				recs = append(recs, f)
				if j.attempt >= n.cfg.MaxAttempts {
					recs = append(recs, n.record(j.d, j.attempt, yardstick.DeliveryAbandoned, j.token, err.Error()))
				}
			}
			mu.Lock()
			outcomes = append(outcomes, recs...)
			if err == nil {
				rep.Sent++
			} else {
				rep.Failed++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Record outcomes even when ctx ended during the sends.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := n.src.Ledger.AppendDeliveries(wctx, outcomes); err != nil {
		return rep, fmt.Errorf("notify record outcomes: %w", err)
	}
	return rep, errors.Join(evalErr, ctx.Err())
}

// winning reports whether token holds the winning claim of the latest
// attempt in rows (the earliest claim by server time, then token), with the
// attempt and when its lease ends. A send recorded meanwhile means no.
func winning(rows []yardstick.DeliveryRecord, token string) (bool, int, time.Time) {
	var mineAttempt int
	for _, r := range rows {
		if r.Kind == yardstick.DeliverySent || r.Kind == yardstick.DeliveryAbandoned {
			return false, 0, time.Time{}
		}
		if r.Kind == yardstick.DeliveryClaim && r.Token == token {
			mineAttempt = r.Attempt
		}
	}
	if mineAttempt == 0 {
		return false, 0, time.Time{}
	}
	for _, r := range rows {
		if r.Kind == yardstick.DeliveryClaim && r.Attempt == mineAttempt {
			// Rows come ordered by (attempt, at, token): the first claim wins.
			return r.Token == token, mineAttempt, r.At.Add(time.Duration(r.LeaseSeconds) * time.Second)
		}
	}
	return false, 0, time.Time{}
}

func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.cfg.RetryBase
	for i := 1; i < attempt && d < n.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, n.cfg.RetryMax)
}

func (n *Notifier) record(d Delivery, attempt int, kind, token, errText string) yardstick.DeliveryRecord {
	r := yardstick.DeliveryRecord{Delivery: d.ID, Notification: d.Notification.ID, Attempt: attempt, Kind: kind, Instance: n.cfg.Instance, Token: token,
		Trigger: d.Notification.Trigger, Subject: d.Notification.Subject, Group: d.Notification.Group, Channel: d.Target.Channel, Target: d.Target.Address,
		Title: d.Notification.Title, Error: errText}
	switch kind {
	case yardstick.DeliveryClaim:
		r.LeaseSeconds = int(n.cfg.Lease / time.Second)
	case yardstick.DeliverySent:
		r.Body = d.Notification.Text()
	}
	return r
}
