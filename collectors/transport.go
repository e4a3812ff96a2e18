package collectors

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/yardstick-dev/yardstick/scheduler"
)

// RetryConfig bounds how long a Transport keeps trying one request.
type RetryConfig struct {
	MaxRetries int           // retries after the first try; default 5
	MaxWait    time.Duration // longest single wait for a rate-limit reset; default 15m
	BaseDelay  time.Duration // first backoff delay for 5xx and transport errors; default 500ms
	MaxDelay   time.Duration // cap on one backoff delay; default 30s
}

func (c RetryConfig) withDefaults() RetryConfig {
	if c.MaxRetries == 0 {
		c.MaxRetries = 5
	}
	if c.MaxWait == 0 {
		c.MaxWait = 15 * time.Minute
	}
	if c.BaseDelay == 0 {
		c.BaseDelay = 500 * time.Millisecond
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = 30 * time.Second
	}
	return c
}

// Transport is an http.RoundTripper that every source client sits on. It
//   - waits out primary rate limits (X-RateLimit-Remaining: 0 until X-RateLimit-Reset,
//     or GitLab's RateLimit-Remaining and RateLimit-Reset) before sending, instead of failing;
//   - retries 429 and secondary-limit 403s after Retry-After (or the reset time);
//   - retries 5xx answers and transport errors with capped exponential backoff;
//   - counts requests and rate-limit headroom in Metrics.
//
// The final answer, success or not, is returned to the caller unchanged.
// Safe for concurrent use.
type Transport struct {
	base      http.RoundTripper
	cfg       RetryConfig
	collector string
	metrics   *Metrics
	now       func() time.Time
	sleep     func(ctx context.Context, d time.Duration) error

	mu           sync.Mutex
	blockedUntil time.Time
}

// NewTransport wraps base (http.DefaultTransport when nil). metrics may be nil.
func NewTransport(base http.RoundTripper, collector string, cfg RetryConfig, metrics *Metrics) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{base: base, cfg: cfg.withDefaults(), collector: collector, metrics: metrics, now: time.Now, sleep: scheduler.Sleep}
}

// WithClock replaces the clock and the sleeper, so tests can run rate-limit waits instantly.
func (t *Transport) WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *Transport {
	t.now, t.sleep = now, sleep
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = t.cfg.BaseDelay, t.cfg.MaxDelay, 0
	bo.Reset()
	for attempt := 0; ; attempt++ {
		if err := t.waitIfBlocked(ctx); err != nil {
			return nil, err
		}
		r := req
		if attempt > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.base.RoundTrip(r)
		last := attempt >= t.cfg.MaxRetries
		if err != nil {
			t.count("error")
			if last || ctx.Err() != nil || !retryableErr(err) {
				return nil, err
			}
			t.retried("transport")
			if err := t.sleep(ctx, bo.NextBackOff()); err != nil {
				return nil, err
			}
			continue
		}
		t.count(strconv.Itoa(resp.StatusCode/100) + "xx")
		t.observeLimits(resp)
		wait, reason, retry := t.classify(resp, bo)
		if !retry || last || wait > t.cfg.MaxWait {
			return resp, nil
		}
		drain(resp)
		t.retried(reason)
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// classify decides whether resp should be retried and after how long.
func (t *Transport) classify(resp *http.Response, bo backoff.BackOff) (time.Duration, string, bool) {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if d, ok := t.retryAfter(resp); ok {
			return d, "rate_limit", true
		}
		return bo.NextBackOff(), "rate_limit", true
	case resp.StatusCode == http.StatusForbidden:
		// GitHub answers 403 for both rate limits and permissions; only the
		// headers tell them apart.
		if d, ok := t.retryAfter(resp); ok {
			return d, "rate_limit", true
		}
		if limitHeader(resp.Header, "Remaining") == "0" {
			if d, ok := t.resetIn(resp); ok {
				return d, "rate_limit", true
			}
		}
		return 0, "", false
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return bo.NextBackOff(), "server_error", true
	}
	return 0, "", false
}

func (t *Transport) retryAfter(resp *http.Response) (time.Duration, bool) {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return at.Sub(t.now()), true
	}
	return 0, false
}

func (t *Transport) resetIn(resp *http.Response) (time.Duration, bool) {
	reset, err := strconv.ParseInt(limitHeader(resp.Header, "Reset"), 10, 64)
	if err != nil {
		return 0, false
	}
	// One extra second: GitHub's reset is rounded down to the second.
	return time.Unix(reset, 0).Sub(t.now()) + time.Second, true
}

// observeLimits records headroom and, when the window is spent, blocks new
// requests until it resets, so the next call waits instead of failing.
func (t *Transport) observeLimits(resp *http.Response) {
	rem := limitHeader(resp.Header, "Remaining")
	if rem == "" {
		return
	}
	n, err := strconv.Atoi(rem)
	if err != nil {
		return
	}
	if t.metrics != nil {
		t.metrics.headroom.WithLabelValues(t.collector).Set(float64(n))
	}
	if n > 0 {
		return
	}
	if d, ok := t.resetIn(resp); ok && d > 0 && d <= t.cfg.MaxWait {
		t.mu.Lock()
		t.blockedUntil = t.now().Add(d)
		t.mu.Unlock()
	}
}

// limitHeader reads a rate-limit header by GitHub's name (X-RateLimit-Name)
// or, failing that, GitLab's (RateLimit-Name); both give Reset in Unix seconds.
func limitHeader(h http.Header, name string) string {
	if v := h.Get("X-RateLimit-" + name); v != "" {
		return v
	}
	return h.Get("RateLimit-" + name)
}

func (t *Transport) waitIfBlocked(ctx context.Context) error {
	t.mu.Lock()
	d := t.blockedUntil.Sub(t.now())
	t.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return t.sleep(ctx, d)
}

func (t *Transport) count(code string) {
	if t.metrics != nil {
		t.metrics.requests.WithLabelValues(t.collector, code).Inc()
	}
}

func (t *Transport) retried(reason string) {
	if t.metrics != nil {
		t.metrics.retries.WithLabelValues(t.collector, reason).Inc()
	}
}

func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, errors.New("retry request: body cannot be replayed")
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}

func retryableErr(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
