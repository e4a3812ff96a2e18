package jirafake

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The fake's data model: projects of issues with changelogs, generated
// deterministically from the project keys.

type category struct {
	id                   int
	key, name, colorName string
}

type status struct {
	id, name, description, icon string
	category                    category
}

var (
	catNew        = category{2, "new", "To Do", "blue-gray"}
	catInProgress = category{4, "indeterminate", "In Progress", "yellow"}
	catDone       = category{3, "done", "Done", "green"}

	statusToDo     = status{"10000", "To Do", "", "https://jira.example/images/icons/statuses/open.png", catNew}
	statusProgress = status{"3", "In Progress", "This issue is being actively worked on at the moment by the assignee.", "https://jira.example/images/icons/statuses/inprogress.png", catInProgress}
	statusReview   = status{"10001", "In Review", "", "https://jira.example/images/icons/statuses/generic.png", catInProgress}
	statusDone     = status{"10002", "Done", "", "https://jira.example/images/icons/statuses/closed.png", catDone}

	statuses = []status{statusToDo, statusProgress, statusReview, statusDone}
)

func statusByID(id string) status {
	for _, s := range statuses {
		if s.id == id {
			return s
		}
	}
	return statusToDo
}

func statusByName(name string) (status, bool) {
	for _, s := range statuses {
		if strings.EqualFold(s.name, name) || s.id == name {
			return s, true
		}
	}
	return status{}, false
}

type issueType struct{ id, name, description, icon string }

var (
	typeStory = issueType{"10001", "Story", "Functionality or a feature expressed as a user goal.", "https://jira.example/rest/api/2/universal_avatar/view/type/issuetype/avatar/10315?size=medium"}
	typeTask  = issueType{"10002", "Task", "A small, distinct piece of work.", "https://jira.example/rest/api/2/universal_avatar/view/type/issuetype/avatar/10318?size=medium"}
	typeBug   = issueType{"10004", "Bug", "A problem or error.", "https://jira.example/rest/api/2/universal_avatar/view/type/issuetype/avatar/10303?size=medium"}
)

type priority struct{ id, name, icon string }

var priorities = []priority{
	{"1", "Highest", "https://jira.example/images/icons/priorities/highest.svg"},
	{"2", "High", "https://jira.example/images/icons/priorities/high.svg"},
	{"3", "Medium", "https://jira.example/images/icons/priorities/medium.svg"},
	{"4", "Low", "https://jira.example/images/icons/priorities/low.svg"},
	{"5", "Lowest", "https://jira.example/images/icons/priorities/lowest.svg"},
}

type user struct {
	accountID, name, displayName, email string
}

var users = []user{
	{"5b10a2844c20165700ede21g", "mia", "Mia Krystof", "mia@example.com"},
	{"5b10ac8d82e05b22cc7d4ef5", "emma", "Emma Richards", "emma@example.com"},
	{"5b109f2e9729b51b54dc274d", "ravi", "Ravi Anand", "ravi@example.com"},
	{"5b10a0effa615349cb016cd8", "lena", "Lena Sato", "lena@example.com"},
}

var (
	componentNames = []string{"api", "web", "payments", "search", "infra"}
	labelNames     = []string{"backend", "frontend", "tech-debt", "customer", "security"}
)

type project struct {
	id, key, name string
	components    []string
	issues        []*issue
}

// item is one changed field of a history. from/to are nil for JSON null.
type item struct {
	field, fieldType string
	from, fromString *string
	to, toString     *string
}

type history struct {
	id      int
	created time.Time
	author  user
	items   []item
}

type issue struct {
	id          int
	num         int
	key         string
	project     *project
	typ         issueType
	priority    priority
	labels      []string
	components  []string
	storyPoints *float64
	summary     string
	creator     user
	assignee    *user
	created     time.Time
	updated     time.Time
	resolved    *time.Time
	status      string // status id
	histories   []history
}

func ptr(s string) *string { return &s }

func seedOf(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// generate builds the projects and their issues. Everything derives from the
// project key, its position and opts, so two fakes with the same options serve
// the same bytes.
func (s *Server) generate() {
	nextIssueID, nextHistoryID := 10000, 20000
	for pi, key := range s.opts.Projects {
		key = strings.ToUpper(key)
		r := rand.New(rand.NewPCG(seedOf(key), uint64(pi)))
		p := &project{id: fmt.Sprint(10000 + pi), key: key, name: titleCase(key) + " project"}
		// Each project has the components it was given, or three of the
		// built-in ones in a stable order.
		if comps := s.opts.Components[key]; len(comps) > 0 {
			p.components = slices.Clone(comps)
		} else {
			perm := r.Perm(len(componentNames))[:3]
			slices.Sort(perm)
			for _, i := range perm {
				p.components = append(p.components, componentNames[i])
			}
		}
		labels := labelNames
		if ls := s.opts.Labels[key]; len(ls) > 0 {
			labels = ls
		}
		s.projects = append(s.projects, p)
		for n := 1; n <= s.opts.IssuesPerProject; n++ {
			created := s.opts.Start.Add(time.Duration(n-1)*s.opts.Spread/time.Duration(s.opts.IssuesPerProject) + time.Duration(pi)*7*time.Minute + time.Duration(r.IntN(50))*time.Minute)
			is := &issue{
				id: nextIssueID, num: n, key: fmt.Sprintf("%s-%d", key, n), project: p,
				priority: priorities[r.IntN(len(priorities))],
				creator:  users[r.IntN(len(users))],
				created:  created, updated: created, status: statusToDo.id,
			}
			nextIssueID++
			switch r.IntN(10) {
			case 0, 1, 2:
				is.typ = typeBug
			case 3, 4, 5, 6:
				is.typ = typeStory
				sp := float64([]int{1, 2, 3, 5, 8}[r.IntN(5)])
				is.storyPoints = &sp
			default:
				is.typ = typeTask
			}
			is.summary = fmt.Sprintf("%s %d of %s", is.typ.name, n, p.name)
			is.components = []string{p.components[r.IntN(len(p.components))]}
			if r.IntN(3) == 0 {
				is.labels = append(is.labels, labels[r.IntN(len(labels))])
			}
			if r.IntN(4) == 0 {
				if l := labels[r.IntN(len(labels))]; !slices.Contains(is.labels, l) {
					is.labels = append(is.labels, l)
				}
			}
			slices.Sort(is.labels)
			a := users[r.IntN(len(users))]
			is.assignee = &a

			at := created
			step := func() time.Time {
				at = at.Add(time.Duration(1+r.IntN(30))*time.Hour + time.Duration(r.IntN(60))*time.Minute)
				return at
			}
			// Edits (priority changes) come minutes apart, so long runs of them
			// do not push an issue's history past the demo's "now".
			edit := func() time.Time {
				at = at.Add(time.Duration(1+r.IntN(10)) * time.Minute)
				return at
			}
			var path []status
			switch d := r.IntN(20); {
			case d < 5: // stays in To Do
			case d < 10:
				path = []status{statusProgress}
			case d < 13:
				path = []status{statusProgress, statusReview}
			default:
				path = []status{statusProgress, statusReview, statusDone}
			}
			if n%7 == 0 && len(path) == 0 {
				path = []status{statusProgress}
			}
			if n%9 == 0 { // done, reopened, done again
				path = []status{statusProgress, statusDone, statusToDo, statusProgress, statusDone}
			}
			for i, st := range path {
				s.move(is, &nextHistoryID, st, step(), users[r.IntN(len(users))])
				// Every seventh issue gets a long run of edits after its first
				// move, so its first transitions lie beyond the changelog that
				// search embeds and beyond the first changelog page; every
				// 23rd one a run longer than Cloud's 40 embedded histories.
				if edits := map[bool]int{true: 12}[n%7 == 0] + map[bool]int{true: 45}[n%23 == 0]; i == 0 && edits > 0 {
					for k := 0; k < edits; k++ {
						from := is.priority
						to := priorities[(slices.Index(priorities, from)+1)%len(priorities)]
						s.addHistory(is, &nextHistoryID, edit(), users[k%len(users)], item{
							field: "priority", fieldType: "jira",
							from: ptr(from.id), fromString: ptr(from.name), to: ptr(to.id), toString: ptr(to.name),
						})
						is.priority = to
					}
				}
			}
			p.issues = append(p.issues, is)
		}
	}
	s.nextIssueID, s.nextHistoryID = nextIssueID, nextHistoryID
}

func (s *Server) addHistory(is *issue, nextID *int, at time.Time, by user, items ...item) {
	is.histories = append(is.histories, history{id: *nextID, created: at, author: by, items: items})
	*nextID++
	if at.After(is.updated) {
		is.updated = at
	}
}

// move transitions is to st at time at, setting or clearing the resolution
// as Jira's default workflow does.
func (s *Server) move(is *issue, nextID *int, st status, at time.Time, by user) {
	from := statusByID(is.status)
	items := []item{{
		field: "status", fieldType: "jira",
		from: ptr(from.id), fromString: ptr(from.name), to: ptr(st.id), toString: ptr(st.name),
	}}
	switch {
	case st.category == catDone && from.category != catDone:
		items = append(items, item{field: "resolution", fieldType: "jira", to: ptr("10000"), toString: ptr("Done")})
		t := at
		is.resolved = &t
	case st.category != catDone && from.category == catDone:
		items = append(items, item{field: "resolution", fieldType: "jira", from: ptr("10000"), fromString: ptr("Done")})
		is.resolved = nil
	}
	is.status = st.id
	s.addHistory(is, nextID, at, by, items...)
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// jiraTime formats t the way Jira does: 2024-01-02T10:00:00.000+0000.
func jiraTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

// fieldsOf renders an issue's fields. v3 renders rich text as Atlassian
// Document Format, v2 as plain strings.
func (s *Server) fieldsOf(base string, is *issue, v3 bool) map[string]any {
	api := base + "/rest/api/" + map[bool]string{true: "3", false: "2"}[v3]
	st := statusByID(is.status)
	comps := make([]map[string]any, 0, len(is.components))
	for _, c := range is.components {
		id := fmt.Sprint(10100 + s.componentIndex(c))
		comps = append(comps, map[string]any{"self": api + "/component/" + id, "id": id, "name": c})
	}
	description := any(fmt.Sprintf("Details of %s.", is.key))
	if v3 {
		description = map[string]any{"type": "doc", "version": 1, "content": []any{
			map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": fmt.Sprintf("Details of %s.", is.key)}}},
		}}
	}
	f := map[string]any{
		"project": map[string]any{
			"self": api + "/project/" + is.project.id, "id": is.project.id, "key": is.project.key, "name": is.project.name,
			"projectTypeKey": "software", "simplified": false,
			"avatarUrls": avatarURLs(base + "/secure/projectavatar?pid=" + is.project.id),
		},
		"issuetype": map[string]any{
			"self": api + "/issuetype/" + is.typ.id, "id": is.typ.id, "description": is.typ.description,
			"iconUrl": is.typ.icon, "name": is.typ.name, "subtask": false, "avatarId": 10300, "hierarchyLevel": 0,
		},
		"priority": map[string]any{
			"self": api + "/priority/" + is.priority.id, "iconUrl": is.priority.icon, "name": is.priority.name, "id": is.priority.id,
		},
		"status":         s.statusJSON(api, st),
		"labels":         append([]string{}, is.labels...),
		"components":     comps,
		"created":        jiraTime(is.created),
		"updated":        jiraTime(is.updated),
		"resolutiondate": nil,
		"resolution":     nil,
		"summary":        is.summary,
		"description":    description,
		"creator":        s.userJSON(api, is.creator, v3),
		"reporter":       s.userJSON(api, is.creator, v3),
		"assignee":       nil,
		StoryPointsField: nil,
	}
	if is.assignee != nil {
		f["assignee"] = s.userJSON(api, *is.assignee, v3)
	}
	if is.resolved != nil {
		f["resolutiondate"] = jiraTime(*is.resolved)
		f["resolution"] = map[string]any{"self": api + "/resolution/10000", "id": "10000", "description": "Work has been completed on this issue.", "name": "Done"}
	}
	if is.storyPoints != nil {
		f[StoryPointsField] = *is.storyPoints
	}
	return f
}

// componentIndex numbers component names across the whole site.
func (s *Server) componentIndex(name string) int {
	if i := slices.Index(componentNames, name); i >= 0 {
		return i
	}
	n := len(componentNames)
	for _, p := range s.projects {
		for _, c := range p.components {
			if !slices.Contains(componentNames, c) {
				if c == name {
					return n
				}
				n++
			}
		}
	}
	return n
}

func (s *Server) statusJSON(api string, st status) map[string]any {
	return map[string]any{
		"self": api + "/status/" + st.id, "description": st.description, "iconUrl": st.icon, "name": st.name, "id": st.id,
		"statusCategory": map[string]any{
			"self": fmt.Sprintf("%s/statuscategory/%d", api, st.category.id), "id": st.category.id,
			"key": st.category.key, "colorName": st.category.colorName, "name": st.category.name,
		},
	}
}

// userJSON renders a user: Cloud identifies users by accountId only, Server by
// name and key.
func (s *Server) userJSON(api string, u user, v3 bool) map[string]any {
	m := map[string]any{
		"displayName": u.displayName, "active": true, "timeZone": s.opts.TimeZone,
		"avatarUrls": avatarURLs("https://avatar-management--avatars.server-location.prod.public.atl-paas.net/initials/" + strings.ToUpper(u.name[:2]) + "-5.png"),
	}
	if s.opts.Flavor == "cloud" {
		m["self"] = api + "/user?accountId=" + u.accountID
		m["accountId"] = u.accountID
		m["accountType"] = "atlassian"
	} else {
		m["self"] = api + "/user?username=" + u.name
		m["name"], m["key"], m["emailAddress"] = u.name, "JIRAUSER"+fmt.Sprint(10000+slices.Index(users, u)), u.email
	}
	return m
}

func avatarURLs(base string) map[string]string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return map[string]string{
		"16x16": base + sep + "size=16&s=16", "24x24": base + sep + "size=24&s=24",
		"32x32": base + sep + "size=32&s=32", "48x48": base + sep + "size=48&s=48",
	}
}

func (s *Server) historyJSON(api string, h history, v3 bool) map[string]any {
	items := make([]map[string]any, 0, len(h.items))
	for _, it := range h.items {
		m := map[string]any{
			"field": it.field, "fieldtype": it.fieldType,
			"from": strOrNil(it.from), "fromString": strOrNil(it.fromString),
			"to": strOrNil(it.to), "toString": strOrNil(it.toString),
		}
		if s.opts.Flavor == "cloud" {
			m["fieldId"] = it.field
		}
		items = append(items, m)
	}
	return map[string]any{
		"id": fmt.Sprint(h.id), "author": s.userJSON(api, h.author, v3), "created": jiraTime(h.created), "items": items,
	}
}

func strOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
