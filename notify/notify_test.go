package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/checks"
	"github.com/yardstick-dev/yardstick/notify"
	"github.com/yardstick-dev/yardstick/store"
	"github.com/yardstick-dev/yardstick/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// now is a Monday, 10:00 UTC: the digest (Monday 09:00) is due, the
// go-1-22 deadline (2026-12-02) is two days away.
var now = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// ---- a real SMTP server on loopback: STARTTLS with a test certificate, AUTH PLAIN ----

type smtpMessage struct {
	from string
	to   []string
	data []byte
}

type smtpServer struct {
	addr string
	ca   *x509.CertPool
	mu   sync.Mutex
	msgs []smtpMessage
}

func mustTLS(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

type smtpSession struct {
	srv    *smtpServer
	conn   *smtp.Conn
	authed bool
	cur    smtpMessage
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if _, tlsOn := s.conn.TLSConnectionState(); !tlsOn {
			return errors.New("auth before STARTTLS")
		}
		if user != "yardstick" || pass != "s3cret" {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = smtpMessage{from: from}
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        { s.cur = smtpMessage{} }
func (s *smtpSession) Logout() error { return nil }

func startSMTP(t testing.TB) *smtpServer {
	t.Helper()
	tc, pool := mustTLS(t)
	ss := &smtpServer{ca: pool}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: ss, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = tc
	srv.AllowInsecureAuth = false
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ss
}

func (s *smtpServer) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

// ---- an httptest Slack Web API that checks requests as Slack documents them ----

type slackPost struct {
	channel, text string
	blocks        []map[string]any
}

type slackAPI struct {
	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	posts    []slackPost
	failNext int // answer this many requests with a 500
}

func startSlack(t testing.TB) *slackAPI {
	s := &slackAPI{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		s.mu.Lock()
		if s.failNext > 0 {
			s.failNext--
			s.mu.Unlock()
			http.Error(w, "<html>upstream error</html>", http.StatusInternalServerError)
			return
		}
		s.mu.Unlock()
		// https://api.slack.com/methods/chat.postMessage: form-encoded or JSON
		// arguments; the token in the Authorization header or as a token argument.
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/x-www-form-urlencoded" && ct != "application/json" {
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_form_data"})
			return
		}
		var p slackPost
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		var blocks string
		if ct == "application/json" {
			var body struct {
				Channel, Text string
				Blocks        json.RawMessage
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_json"})
				return
			}
			p.channel, p.text, blocks = body.Channel, body.Text, string(body.Blocks)
		} else {
			if err := r.ParseForm(); err != nil {
				_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_form_data"})
				return
			}
			if token == "" {
				token = r.PostForm.Get("token")
			}
			p.channel, p.text, blocks = r.PostForm.Get("channel"), r.PostForm.Get("text"), r.PostForm.Get("blocks")
		}
		switch {
		case token == "":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "not_authed"})
			return
		case token != "xoxb-test-token":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
			return
		case p.channel == "":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "channel_not_found"})
			return
		case p.text == "" && blocks == "":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "no_text"})
			return
		}
		if blocks != "" {
			if err := json.Unmarshal([]byte(blocks), &p.blocks); err != nil || len(p.blocks) == 0 || len(p.blocks) > 50 {
				_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_blocks"})
				return
			}
			for _, b := range p.blocks {
				if b["type"] == nil {
					_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_blocks"})
					return
				}
				if b["type"] == "header" {
					txt, _ := b["text"].(map[string]any)
					if txt["type"] != "plain_text" || len([]rune(txt["text"].(string))) > 150 {
						_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_blocks"})
						return
					}
				}
			}
		}
		s.mu.Lock()
		s.posts = append(s.posts, p)
		n := len(s.posts)
		s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C0PAYMENTS", "ts": "1764496800.00010" + string(rune('0'+n%10)),
			"message": map[string]any{"type": "message", "text": p.text}})
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slackAPI) all() []slackPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]slackPost(nil), s.posts...)
}

// ---- the organisation and its scoring history ----

func mustSeed(t testing.TB, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	ents := []yardstick.Entity{
		{Ref: "group:default/payments-tribe", Kind: "Group", Namespace: "default", Name: "payments-tribe", Title: "Payments tribe",
			Annotations: map[string]string{"slack.com/channel": "#payments", "yardstick.dev/timezone": "Europe/Berlin"}, Children: []yardstick.EntityRef{"group:default/checkout"}},
		{Ref: "group:default/checkout", Kind: "Group", Namespace: "default", Name: "checkout", Title: "Checkout squad", Parent: "group:default/payments-tribe",
			Annotations: map[string]string{"yardstick.dev/email": "checkout@example.com"}},
		{Ref: "component:default/cart", Kind: "Component", Namespace: "default", Name: "cart", Title: "Cart API", Owner: "group:default/checkout", Type: "service", Lifecycle: "production"},
		{Ref: "component:default/pay", Kind: "Component", Namespace: "default", Name: "pay", Owner: "group:default/checkout", Type: "service", Lifecycle: "production"},
		// A component owned by a person is reached through the person's group.
		{Ref: "user:default/ann", Kind: "User", Namespace: "default", Name: "ann", MemberOf: []yardstick.EntityRef{"group:default/checkout"}},
		{Ref: "component:default/solo", Kind: "Component", Namespace: "default", Name: "solo", Owner: "user:default/ann", Type: "library", Lifecycle: "production"},
	}
	if _, err := db.ReplaceCatalog(ctx, ents); err != nil {
		t.Fatal(err)
	}
	run := func(id string, at time.Time, cartLevel string, cartRank int) {
		t.Helper()
		sums := []yardstick.ScoreSummary{
			{RunID: id, RunAt: at, Scorecard: "production-readiness", Entity: "component:default/cart", Owner: "group:default/checkout", Level: cartLevel, LevelRank: cartRank, Score: 50},
			{RunID: id, RunAt: at, Scorecard: "production-readiness", Entity: "component:default/pay", Owner: "group:default/checkout", Level: "silver", LevelRank: 2, Score: 100},
		}
		if err := db.WriteScoreSummaries(ctx, sums); err != nil {
			t.Fatal(err)
		}
		camp := []yardstick.CampaignResult{
			{RunID: id, RunAt: at, Campaign: "go-1-22", Entity: "component:default/cart", Owner: "group:default/checkout", State: yardstick.CampaignPending},
			{RunID: id, RunAt: at, Campaign: "go-1-22", Entity: "component:default/pay", Owner: "group:default/checkout", State: yardstick.CampaignDone},
		}
		if err := db.WriteCampaignResults(ctx, camp); err != nil {
			t.Fatal(err)
		}
	}
	run("r0", now.AddDate(0, 0, -8), "silver", 2)
	run("r1", now.Add(-26*time.Hour), "silver", 2)
	run("r2", now.Add(-3*time.Hour), "silver", 2)
	run("r3", now.Add(-2*time.Hour), "bronze", 1) // cart drops a level
}

// mustScorecards compiles the scorecards and campaigns of testdata/rules.yaml.
func mustScorecards(t testing.TB) *checks.RuleSet {
	t.Helper()
	env, err := checks.NewEnv(checks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := env.LoadDir(os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatalf("checks.LoadDir() = %v", err)
	}
	return rs
}

// mustRules loads the notification rules and the scorecards of testdata/rules.yaml.
func mustRules(t testing.TB) (*notify.Rules, *checks.RuleSet) {
	t.Helper()
	rules, err := notify.LoadRules(os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatalf("LoadRules() = %v", err)
	}
	return rules, mustScorecards(t)
}

type fakeMetrics struct{}

func (fakeMetrics) Metrics(_ context.Context, q yardstick.MetricQuery) (map[yardstick.EntityRef]yardstick.MetricReport, error) {
	v := 4.0
	if q.Window.To.Before(now.Add(-24 * time.Hour)) {
		v = 3 // the week before
	}
	out := map[yardstick.EntityRef]yardstick.MetricReport{}
	for _, s := range q.Subjects {
		out[s] = yardstick.MetricReport{Subject: s, Window: q.Window, Values: map[string]yardstick.MetricValue{"deploys_per_week": {Value: v, Count: 4}}}
	}
	return out, nil
}

type harness struct {
	db           *store.DB
	smtp         *smtpServer
	slack        *slackAPI
	retryBase    time.Duration // default 1s
	maxPerTarget int
}

func newHarness(t testing.TB) *harness {
	db := storetest.NewDB(t)
	mustSeed(t, db)
	return &harness{db: db, smtp: startSMTP(t), slack: startSlack(t)}
}

func (h *harness) notifier(t testing.TB, instance string) *notify.Notifier {
	t.Helper()
	rules, rs := mustRules(t)
	host, port, _ := net.SplitHostPort(h.smtp.addr)
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	email, err := notify.NewEmail(notify.EmailConfig{Host: host, Port: p, Username: "yardstick", Password: "s3cret", From: "yardstick@example.com",
		TLSConfig: &tls.Config{RootCAs: h.smtp.ca, ServerName: "127.0.0.1"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	slack := notify.NewSlack(notify.SlackConfig{APIURL: h.slack.srv.URL + "/api/", Token: "xoxb-test-token"}, h.slack.srv.Client())
	cfg := notify.Config{Instance: instance, BaseURL: "https://yardstick.example.com", Settle: time.Second, Lease: 30 * time.Second,
		SendTimeout: 10 * time.Second, RetryBase: max(h.retryBase, time.Second), MaxPerTarget: h.maxPerTarget}
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	src := notify.Sources{Catalog: h.db, Changes: h.db, Campaigns: h.db, Digests: h.db, Metrics: fakeMetrics{}, Collectors: h.db, Ledger: h.db,
		Rules: func() (*notify.Rules, *checks.RuleSet) { return rules, rs }}
	return notify.New(cfg, src, map[string]notify.Sender{notify.ChannelSlack: slack, notify.ChannelEmail: email},
		slog.New(slog.DiscardHandler), func() time.Time { return now })
}

// wantTitles are the three notifications the seed makes due at now.
var wantTitles = []string{
	"Cart API dropped from silver to bronze on Production readiness",
	"Go 1.22 everywhere: deadline 2026-12-02 is in 2 days, 1 components left",
	"Weekly digest of Checkout squad (squad), week 2026-W49",
}

func (h *harness) check(t *testing.T) {
	t.Helper()
	posts := h.slack.all()
	mails := h.smtp.messages()
	count := func(titles []string) map[string]int {
		m := map[string]int{}
		for _, s := range titles {
			m[s]++
		}
		return m
	}
	var slackTitles, mailTitles []string
	for _, p := range posts {
		if p.channel != "#payments" {
			t.Errorf("slack post to %q, want #payments (the tribe's channel, up the tree)", p.channel)
		}
		slackTitles = append(slackTitles, p.text)
	}
	for _, m := range mails {
		if len(m.to) != 1 || m.to[0] != "checkout@example.com" || m.from != "yardstick@example.com" {
			t.Errorf("mail from %q to %v, want yardstick@example.com to checkout@example.com", m.from, m.to)
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
		if err != nil {
			t.Fatalf("read mail: %v", err)
		}
		mailTitles = append(mailTitles, msg.Header.Get("Subject"))
		mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/alternative" {
			t.Fatalf("mail Content-Type = %q, want multipart/alternative", msg.Header.Get("Content-Type"))
		}
		parts := map[string]string{}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			b, _ := io.ReadAll(p)
			parts[ct] = string(b)
		}
		if !strings.Contains(parts["text/plain"], msg.Header.Get("Subject")) || !strings.Contains(parts["text/html"], "<h2>") {
			t.Errorf("mail %q parts = %v, want a plain text and an HTML part with the title", msg.Header.Get("Subject"), parts)
		}
	}
	for _, got := range []map[string]int{count(slackTitles), count(mailTitles)} {
		if len(got) != len(wantTitles) {
			t.Errorf("delivered %v, want each of %q once", got, wantTitles)
		}
		for _, w := range wantTitles {
			if got[w] != 1 {
				t.Errorf("%q delivered %d times, want once (all: %v)", w, got[w], got)
			}
		}
	}
}

func TestDeliveredOnceAcrossRestart(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rep, err := h.notifier(t, "first").Tick(ctx)
	if err != nil {
		t.Fatalf("Tick() = %v", err)
	}
	if rep.Sent != 6 || rep.Failed != 0 {
		t.Errorf("first Tick() = %+v, want 6 sent (3 notifications × Slack and e-mail)", rep)
	}
	// A restart: a new notifier on the same database sends nothing again.
	rep, err = h.notifier(t, "restarted").Tick(ctx)
	if err != nil {
		t.Fatalf("Tick() after restart = %v", err)
	}
	if rep.Claimed != 0 || rep.Sent != 0 {
		t.Errorf("Tick() after restart = %+v, want nothing claimed or sent", rep)
	}
	h.check(t)

	// The digest's Slack message is Block Kit: header, sections, link.
	for _, p := range h.slack.all() {
		if !strings.HasPrefix(p.text, "Weekly digest") {
			continue
		}
		var types []string
		var text strings.Builder
		for _, b := range p.blocks {
			types = append(types, b["type"].(string))
			if txt, ok := b["text"].(map[string]any); ok {
				text.WriteString(txt["text"].(string) + "\n")
			}
		}
		if types[0] != "header" || types[len(types)-1] != "context" {
			t.Errorf("digest blocks = %v, want a header first and the link context last", types)
		}
		for _, want := range []string{"bronze 1, silver 1; 1 dropped, 0 rose", "deploys_per_week: 4 (+1)", "Go 1.22 everywhere: 1 of 2 done"} {
			if !strings.Contains(text.String(), want) {
				t.Errorf("digest text lacks %q:\n%s", want, text.String())
			}
		}
	}
}

func TestDeliveredOnceByTwoRacingInstances(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	reps := make([]notify.TickReport, 2)
	errs := make([]error, 2)
	for i, name := range []string{"a", "b"} {
		n := h.notifier(t, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = n.Tick(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d Tick() = %v", i, err)
		}
	}
	if reps[0].Sent+reps[1].Sent != 6 {
		t.Errorf("racing Tick() = %+v and %+v, want 6 sends between them", reps[0], reps[1])
	}
	h.check(t)
}

func TestFailedSendIsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t)
	h.retryBase = 5 * time.Second // long enough that the preview below sees the wait on a loaded machine
	ctx := context.Background()
	h.slack.mu.Lock()
	h.slack.failNext = 100
	h.slack.mu.Unlock()
	n := h.notifier(t, "a")
	rep, err := n.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 3 || rep.Sent != 3 {
		t.Fatalf("Tick() with Slack down = %+v, want 3 failed (Slack) and 3 sent (e-mail)", rep)
	}
	plan, err := n.Preview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	retrying := 0
	for _, p := range plan {
		if p.Target.Channel == notify.ChannelSlack && p.State == notify.StateRetry {
			retrying++
		}
	}
	if retrying != 3 {
		t.Errorf("Preview() after failures: %d Slack deliveries waiting to retry, want 3", retrying)
	}
	h.slack.mu.Lock()
	h.slack.failNext = 0
	h.slack.mu.Unlock()
	// Ticks before the backoff ends send nothing; the retry goes out once it has.
	if rep, err := n.Tick(ctx); err != nil || rep.Claimed != 0 {
		t.Errorf("Tick() during the backoff = %+v, %v; want nothing claimed", rep, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(h.slack.all()) < 3 && time.Now().Before(deadline) {
		if _, err := n.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	h.check(t)
	rows, err := h.db.RecentDeliveries(ctx, "group:default/checkout", 100)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, r := range rows {
		if r.Kind == yardstick.DeliveryFailed {
			failed++
			if !strings.Contains(r.Error, "500") {
				t.Errorf("failure recorded as %q, want the HTTP status", r.Error)
			}
		}
	}
	if failed != 3 {
		t.Errorf("ledger has %d failures, want 3", failed)
	}
}

func TestQuietHoursHoldDeliveries(t *testing.T) {
	h := newHarness(t)
	n := h.notifier(t, "a")
	// 23:00 Berlin is within the rule's quiet hours (22:00–07:00).
	plan, err := n.Preview(context.Background(), time.Date(2026, 11, 30, 22, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 {
		t.Fatal("Preview() = nothing, want the held deliveries")
	}
	for _, p := range plan {
		if p.State != notify.StateQuiet || !p.At.Equal(time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)) {
			t.Errorf("%s to %s: state %s until %v, want quiet until 07:00 Berlin (06:00 UTC)", p.Notification.Title, p.Target, p.State, p.At)
		}
	}
}

func TestBurstsTrickle(t *testing.T) {
	h := newHarness(t)
	h.maxPerTarget = 2
	n := h.notifier(t, "a")
	rep, err := n.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 4 || rep.Held != 2 {
		t.Fatalf("first Tick() = %+v, want 2 sent per target and 2 held", rep)
	}
	if rep, err = n.Tick(context.Background()); err != nil || rep.Sent != 2 || rep.Held != 0 {
		t.Fatalf("second Tick() = %+v, %v; want the 2 held ones sent", rep, err)
	}
	h.check(t)
}
