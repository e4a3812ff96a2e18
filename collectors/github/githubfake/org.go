package githubfake

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// The deterministic organisation: every repository's history is generated from
// its slug and the seed, in the Days before Epoch. Pull requests are merged into
// main by merge commit, squash or rebase in turn, so that the commit graph, the
// compare API and the deployments shipped from it behave like GitHub's.

type commit struct {
	sha        string
	parents    []string
	author     string // login
	authorDate time.Time
	commitDate time.Time
	message    string
}

type review struct {
	id     int64
	user   string
	state  string // APPROVED, CHANGES_REQUESTED, COMMENTED
	at     time.Time
	commit string
}

type pull struct {
	number      int
	id          int64
	title       string
	user        string
	branch      string
	created     time.Time
	updated     time.Time
	closed      time.Time // zero while open
	merged      time.Time // zero unless merged
	mergedBy    string
	method      string // merge, squash, rebase
	commits     []*commit
	mergeSHA    string
	baseSHA     string
	additions   int
	deletions   int
	files       int
	reviews     []*review
	draft       bool
	closeIntent bool // close without merging
}

type status struct {
	id    int64
	state string
	at    time.Time
}

type deployment struct {
	id       int64
	env      string
	sha      string
	created  time.Time
	creator  string
	statuses []*status // oldest first
}

func (d *deployment) updated() time.Time {
	if n := len(d.statuses); n > 0 {
		return d.statuses[n-1].at
	}
	return d.created
}

type run struct {
	id         int64
	number     int
	attempt    int
	event      string
	branch     string
	sha        string
	actor      string
	created    time.Time
	started    time.Time
	updated    time.Time
	status     string
	conclusion string
}

type release struct {
	id        int64
	tag       string
	target    string
	created   time.Time
	published time.Time
	author    string
	draft     bool
}

type protection struct {
	reviews        int
	checks         []string
	strict         bool
	enforceAdmins  bool
	linearHistory  bool
	dismissStale   bool
	codeOwnerCheck bool
}

type repo struct {
	index       int
	owner, name string
	id          int64
	created     time.Time
	language    string
	topics      []string
	license     string
	private     bool
	archived    bool
	branch      string
	commits     map[string]*commit
	head        string
	pulls       []*pull
	deployments []*deployment
	runs        []*run
	releases    []*release
	protection  *protection
	files       map[string]string
	pushed      time.Time
	updated     time.Time

	rng  *rand.Rand
	seq  int64 // ids
	shaN int
}

func (r *repo) slug() string { return r.owner + "/" + r.name }

func (r *repo) nextID() int64 {
	r.seq++
	return r.id*1_000_000 + r.seq
}

func (r *repo) newSHA() string {
	r.shaN++
	h := sha1.Sum([]byte(fmt.Sprintf("%s#%d", r.slug(), r.shaN)))
	return hex.EncodeToString(h[:])
}

var (
	people    = []string{"ada", "grace", "linus", "ken", "barbara", "margaret", "dennis", "frances", "edsger", "radia"}
	languages = []string{"Go", "TypeScript", "Python"}
)

func seedOf(slug string, seed uint64) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(slug))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// timeline event kinds, replayed in time order to build main's history.
const (
	evOpen = iota
	evMerge
	evClose
	evPush
	evDeploy
)

type tlEvent struct {
	at   time.Time
	kind int
	pr   *pull
	env  string
	ok   bool
}

func newRepo(index int, slug string, epoch time.Time, days int, seed uint64) *repo {
	owner, name, _ := strings.Cut(strings.ToLower(slug), "/")
	rng := seedOf(owner+"/"+name, seed)
	start := epoch.Add(-time.Duration(days) * 24 * time.Hour).Truncate(time.Hour)
	r := &repo{
		index: index, owner: owner, name: name, id: int64(1000 + index),
		created:  start.Add(-365 * 24 * time.Hour),
		language: languages[index%len(languages)],
		topics:   []string{"yardstick-demo", strings.ToLower(languages[index%len(languages)])},
		license:  []string{"MIT", "Apache-2.0", ""}[index%3],
		private:  index%2 == 1,
		branch:   "main",
		commits:  map[string]*commit{},
		rng:      rng,
	}
	if index%3 != 2 {
		r.protection = &protection{reviews: 1 + index%2, checks: []string{"ci"}, strict: true, enforceAdmins: index%2 == 0, dismissStale: true, codeOwnerCheck: index%4 == 0}
	}
	r.files = defaultFiles(r)
	// The initial commit, before the window.
	root := &commit{sha: r.newSHA(), author: people[rng.IntN(len(people))], authorDate: start.Add(-24 * time.Hour), message: "Initial commit"}
	root.commitDate = root.authorDate
	r.commits[root.sha] = root
	r.head = root.sha

	var tl []tlEvent
	number := 0
	for d := 0; d < days; d++ {
		day := start.Add(time.Duration(d) * 24 * time.Hour)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for n := rng.IntN(3); n > 0; n-- {
			number++
			p := &pull{number: number, id: r.nextID(), user: people[rng.IntN(len(people))], branch: fmt.Sprintf("feature/%d", number)}
			p.title = fmt.Sprintf("Change %d of %s", number, name)
			p.created = day.Add(8*time.Hour + time.Duration(rng.IntN(8*60))*time.Minute)
			p.method = []string{"merge", "squash", "rebase"}[number%3]
			p.additions, p.deletions, p.files = 5+rng.IntN(400), rng.IntN(200), 1+rng.IntN(12)
			p.draft = rng.IntN(10) == 0
			tl = append(tl, tlEvent{at: p.created, kind: evOpen, pr: p})
			end := p.created.Add(time.Duration(2+rng.IntN(46)) * time.Hour)
			switch roll := rng.IntN(10); {
			case roll < 8 && end.Before(epoch.Add(-2*time.Hour)):
				tl = append(tl, tlEvent{at: end, kind: evMerge, pr: p})
			case roll == 8 && end.Before(epoch.Add(-2*time.Hour)):
				p.closeIntent = true
				tl = append(tl, tlEvent{at: end, kind: evClose, pr: p})
			}
			r.pulls = append(r.pulls, p)
		}
		if rng.IntN(4) == 0 {
			tl = append(tl, tlEvent{at: day.Add(17 * time.Hour), kind: evPush})
		}
		tl = append(tl, tlEvent{at: day.Add(11 * time.Hour), kind: evDeploy, env: "staging", ok: rng.IntN(10) != 0})
		if d%2 == 0 {
			tl = append(tl, tlEvent{at: day.Add(15*time.Hour + time.Duration(rng.IntN(60))*time.Minute), kind: evDeploy, env: "production", ok: rng.IntN(10) != 0})
		}
	}
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].at.Before(tl[j].at) })
	for _, e := range tl {
		if !e.at.Before(epoch.Add(-time.Hour)) {
			continue
		}
		switch e.kind {
		case evOpen:
			r.open(e.pr, e.at)
		case evMerge:
			r.merge(e.pr, e.at, people[rng.IntN(len(people))])
		case evClose:
			e.pr.closed, e.pr.updated = e.at, e.at
		case evPush:
			r.push(people[rng.IntN(len(people))], e.at, "Direct fix on main")
		case evDeploy:
			r.deploy(e.env, e.at, e.ok)
		}
	}
	opened := r.pulls[:0]
	for _, p := range r.pulls {
		if len(p.commits) > 0 {
			opened = append(opened, p)
		}
	}
	r.pulls = opened
	return r
}

// open creates the pull request's branch commits on top of main's head, its
// reviews and its CI run.
func (r *repo) open(p *pull, at time.Time) {
	p.baseSHA = r.head
	parent := r.head
	k := 1 + r.rng.IntN(4)
	p.commits = nil
	for i := 0; i < k; i++ {
		c := &commit{sha: r.newSHA(), parents: []string{parent}, author: p.user,
			authorDate: at.Add(-time.Duration(k-i) * 20 * time.Minute), message: fmt.Sprintf("%s: part %d", p.title, i+1)}
		c.commitDate = c.authorDate
		r.commits[c.sha] = c
		p.commits = append(p.commits, c)
		parent = c.sha
	}
	p.updated = at
	for i, n := 0, 1+r.rng.IntN(2); i < n; i++ {
		rv := &review{id: r.nextID(), user: people[(r.rng.IntN(len(people)-1)+1+indexOf(people, p.user))%len(people)],
			state: []string{"APPROVED", "COMMENTED", "CHANGES_REQUESTED", "APPROVED"}[r.rng.IntN(4)],
			at:    at.Add(time.Duration(30+r.rng.IntN(600)) * time.Minute), commit: parent}
		p.reviews = append(p.reviews, rv)
		if rv.at.After(p.updated) {
			p.updated = rv.at
		}
	}
	r.ci("pull_request", p.branch, parent, p.user, at.Add(time.Minute))
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return 0
}

// merge lands the pull request on main by its merge method.
func (r *repo) merge(p *pull, at time.Time, by string) {
	switch p.method {
	case "merge":
		c := &commit{sha: r.newSHA(), parents: []string{r.head, p.commits[len(p.commits)-1].sha}, author: by,
			authorDate: at, commitDate: at, message: fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, r.owner, p.branch)}
		r.commits[c.sha] = c
		r.head = c.sha
	case "squash":
		c := &commit{sha: r.newSHA(), parents: []string{r.head}, author: p.user,
			authorDate: at, commitDate: at, message: fmt.Sprintf("%s (#%d)", p.title, p.number)}
		r.commits[c.sha] = c
		r.head = c.sha
	case "rebase":
		for _, orig := range p.commits {
			c := &commit{sha: r.newSHA(), parents: []string{r.head}, author: orig.author,
				authorDate: orig.authorDate, commitDate: at, message: orig.message}
			r.commits[c.sha] = c
			r.head = c.sha
		}
	}
	p.mergeSHA, p.merged, p.closed, p.mergedBy = r.head, at, at, by
	if at.After(p.updated) {
		p.updated = at
	}
	r.pushed, r.updated = at, at
	r.ci("push", r.branch, r.head, by, at.Add(time.Minute))
}

// push adds one commit to main directly.
func (r *repo) push(author string, at time.Time, msg string) string {
	c := &commit{sha: r.newSHA(), parents: []string{r.head}, author: author, authorDate: at.Add(-10 * time.Minute), commitDate: at, message: msg}
	r.commits[c.sha] = c
	r.head = c.sha
	r.pushed, r.updated = at, at
	r.ci("push", r.branch, r.head, author, at.Add(time.Minute))
	return c.sha
}

// ci records one completed CI run; a third of failed first attempts are re-run.
func (r *repo) ci(event, branch, sha, actor string, at time.Time) {
	ru := &run{id: r.nextID(), number: len(r.runs) + 1, attempt: 1, event: event, branch: branch, sha: sha, actor: actor,
		created: at, started: at, status: "completed", conclusion: "success"}
	ru.updated = at.Add(time.Duration(3+r.rng.IntN(8)) * time.Minute)
	if r.rng.IntN(6) == 0 {
		ru.conclusion = "failure"
		if r.rng.IntN(3) == 0 {
			ru.attempt, ru.started = 2, ru.updated.Add(5*time.Minute)
			ru.updated, ru.conclusion = ru.started.Add(6*time.Minute), "success"
		}
	}
	r.runs = append(r.runs, ru)
}

// deploy deploys main's head to env: in_progress, then success or failure; a
// success marks the environment's previous successful deployment inactive.
func (r *repo) deploy(env string, at time.Time, ok bool) *deployment {
	d := &deployment{id: r.nextID(), env: env, sha: r.head, created: at, creator: "deploy-bot"}
	d.statuses = append(d.statuses, &status{id: r.nextID(), state: "in_progress", at: at.Add(time.Minute)})
	end := at.Add(time.Duration(4+r.rng.IntN(6)) * time.Minute)
	if !ok {
		d.statuses = append(d.statuses, &status{id: r.nextID(), state: "failure", at: end})
		r.deployments = append(r.deployments, d)
		return d
	}
	for i := len(r.deployments) - 1; i >= 0; i-- {
		prev := r.deployments[i]
		if prev.env == env && prev.final() == "success" {
			prev.statuses = append(prev.statuses, &status{id: r.nextID(), state: "inactive", at: end})
			break
		}
	}
	d.statuses = append(d.statuses, &status{id: r.nextID(), state: "success", at: end})
	r.deployments = append(r.deployments, d)
	if env == "production" {
		n := 0
		for _, x := range r.deployments {
			if x.env == "production" && x.final() == "success" {
				n++
			}
		}
		if n%4 == 0 {
			r.releases = append(r.releases, &release{id: r.nextID(), tag: fmt.Sprintf("v1.%d.0", n/4), target: r.branch,
				created: end, published: end.Add(time.Minute), author: d.creator})
		}
	}
	return d
}

// final returns the settling state of a deployment: its latest success, failure
// or error, "" while it runs.
func (d *deployment) final() string {
	out := ""
	for _, s := range d.statuses {
		switch s.state {
		case "success", "failure", "error":
			out = s.state
		}
	}
	return out
}

// reachable returns the commits reachable from sha.
func (r *repo) reachable(sha string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{sha}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[s] || r.commits[s] == nil {
			continue
		}
		seen[s] = true
		stack = append(stack, r.commits[s].parents...)
	}
	return seen
}

// history returns the commits reachable from sha, newest commit date first (as
// GET /commits lists them).
func (r *repo) history(sha string) []*commit {
	var out []*commit
	for s := range r.reachable(sha) {
		out = append(out, r.commits[s])
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].commitDate.Equal(out[j].commitDate) {
			return out[i].commitDate.After(out[j].commitDate)
		}
		return out[i].sha > out[j].sha
	})
	return out
}

// compare returns the commits reachable from head but not base, oldest first,
// and GitHub's status word.
func (r *repo) compare(base, head string) ([]*commit, string) {
	inBase := r.reachable(base)
	inHead := r.reachable(head)
	var ahead []*commit
	for s := range inHead {
		if !inBase[s] {
			ahead = append(ahead, r.commits[s])
		}
	}
	behind := 0
	for s := range inBase {
		if !inHead[s] {
			behind++
		}
	}
	sort.Slice(ahead, func(i, j int) bool {
		if !ahead[i].commitDate.Equal(ahead[j].commitDate) {
			return ahead[i].commitDate.Before(ahead[j].commitDate)
		}
		return ahead[i].sha < ahead[j].sha
	})
	switch {
	case len(ahead) == 0 && behind == 0:
		return nil, "identical"
	case len(ahead) == 0:
		return nil, "behind"
	case behind == 0:
		return ahead, "ahead"
	default:
		return ahead, "diverged"
	}
}

func (r *repo) pull(number int) *pull {
	for _, p := range r.pulls {
		if p.number == number {
			return p
		}
	}
	return nil
}

func (r *repo) deployment(id int64) *deployment {
	for _, d := range r.deployments {
		if d.id == id {
			return d
		}
	}
	return nil
}

// defaultFiles returns the repository's files on main, by language.
func defaultFiles(r *repo) map[string]string {
	f := map[string]string{
		"README.md":                "# " + r.name + "\n\nPart of the Yardstick demo organisation.\n",
		"catalog-info.yaml":        fmt.Sprintf("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\n  annotations:\n    github.com/project-slug: %s/%s\nspec:\n  type: service\n  lifecycle: production\n  owner: group:default/team-%d\n", r.name, r.owner, r.name, r.index%4),
		".github/workflows/ci.yml": "name: CI\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n",
	}
	if r.index%4 != 3 {
		f[".github/CODEOWNERS"] = fmt.Sprintf("* @%s/team-%d\n", r.owner, r.index%4)
	}
	if r.index%2 == 0 {
		f["SECURITY.md"] = "# Security\n\nReport vulnerabilities to security@example.com.\n"
	}
	switch r.index % 3 {
	case 0:
		f[".github/dependabot.yml"] = "version: 2\nupdates:\n  - package-ecosystem: gomod\n    directory: /\n    schedule:\n      interval: weekly\n"
	case 1:
		f["renovate.json"] = "{\n  \"extends\": [\"config:recommended\"]\n}\n"
	}
	switch r.language {
	case "Go":
		goVersion := []string{"1.20", "1.21", "1.22", "1.21.5"}[r.index%4]
		f["go.mod"] = fmt.Sprintf("module github.com/%s/%s\n\ngo %s\n\nrequire (\n\tgithub.com/prometheus/client_golang v1.19.0\n\tgolang.org/x/sync v0.7.0 // indirect\n)\n", r.owner, r.name, goVersion)
		f["Dockerfile"] = fmt.Sprintf("ARG GO_VERSION=%s\nFROM golang:${GO_VERSION} AS build\nWORKDIR /src\nCOPY . .\nRUN go build -o /out/app .\n\nFROM gcr.io/distroless/static-debian12\nCOPY --from=build /out/app /app\nENTRYPOINT [\"/app\"]\n", goVersion)
	case "TypeScript":
		node := []string{"18", "20"}[r.index%2]
		f["package.json"] = fmt.Sprintf("{\n  \"name\": \"@%s/%s\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\n    \"express\": \"^4.19.2\",\n    \"react\": \"^18.3.1\"\n  },\n  \"devDependencies\": {\n    \"typescript\": \"^5.4.5\"\n  },\n  \"engines\": {\n    \"node\": \">=%s\"\n  }\n}\n", r.owner, r.name, node)
		f["Dockerfile"] = fmt.Sprintf("FROM node:%s-alpine\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD [\"node\", \"dist/index.js\"]\n", node)
		f[".nvmrc"] = node + "\n"
	case "Python":
		f["requirements.txt"] = "fastapi==0.111.0\nuvicorn==0.29.0\n"
		f["Dockerfile"] = "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
	}
	return f
}

// languageBytes is the languages API answer.
func (r *repo) languageBytes() map[string]int {
	base := 40_000 + r.index*1_000
	switch r.language {
	case "Go":
		return map[string]int{"Go": base, "Dockerfile": 310, "Makefile": 420}
	case "TypeScript":
		return map[string]int{"TypeScript": base, "JavaScript": base / 10, "Dockerfile": 180}
	default:
		return map[string]int{"Python": base, "Dockerfile": 150}
	}
}
