package catalog

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/yardstick-dev/yardstick"
)

// Scan is one source read by Importer.Read. Its entities wait in a temporary
// file; EachBatch hands them out in batches with the relations Backstage
// derives (a component's domain through its system, group parents and
// children, members and memberOf) filled in, so that memory holds one batch
// and a small index of refs and relations, not the whole catalog.
type Scan struct {
	Source string   // the source's name
	Files  int      // files (or URLs) read
	Notes  []string // things kept but worth knowing
	Errors []error  // each names its file:line, target or API page

	located map[yardstick.EntityRef]string // ref → "file:line" where it is defined
	kinds   map[string]int
	count   int
	rel     relIndex

	spool *os.File
	w     *bufio.Writer
	enc   *json.Encoder
	werr  error
}

func newScan(source string) (*Scan, error) {
	f, err := os.CreateTemp("", "yardstick-catalog-*.jsonl")
	if err != nil {
		return nil, fmt.Errorf("catalog spool: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	return &Scan{Source: source, located: map[yardstick.EntityRef]string{}, kinds: map[string]int{}, rel: newRelIndex(), spool: f, w: w, enc: json.NewEncoder(w)}, nil
}

// Err joins the errors, nil when there are none.
func (s *Scan) Err() error { return errors.Join(s.Errors...) }

// Len is the number of entities found.
func (s *Scan) Len() int { return s.count }

// Kinds counts the entities found per kind (lower case).
func (s *Scan) Kinds() map[string]int { return s.kinds }

// Located returns every ref the scan found with where it is defined. The map
// belongs to the scan; callers must not change it.
func (s *Scan) Located() map[yardstick.EntityRef]string { return s.located }

// Close removes the temporary file.
func (s *Scan) Close() error {
	if s.spool == nil {
		return nil
	}
	name := s.spool.Name()
	err := s.spool.Close()
	s.spool = nil
	if rerr := os.Remove(name); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// add records e unless its ref was seen before, which is an error naming both places.
func (s *Scan) add(e yardstick.Entity) bool {
	if first, ok := s.located[e.Ref]; ok {
		s.Errors = append(s.Errors, &ParseError{Location: e.Location, Msg: fmt.Sprintf("duplicate entity %s, first defined at %s", e.Ref, first)})
		return false
	}
	s.located[e.Ref] = e.Location
	s.kinds[e.Ref.Kind()]++
	s.count++
	s.rel.note(e)
	if s.werr == nil {
		s.werr = s.enc.Encode(&e)
	}
	return true
}

func (s *Scan) flush() error {
	if s.werr != nil {
		return fmt.Errorf("catalog spool: %w", s.werr)
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("catalog spool: %w", err)
	}
	return nil
}

// EachBatch calls fn with the entities in the order they were found, at most
// size at a time, relations resolved. fn must not keep the slice. It stops at
// the first error fn returns, or when ctx ends.
func (s *Scan) EachBatch(ctx context.Context, size int, fn func([]yardstick.Entity) error) error {
	if s.spool == nil {
		return errors.New("catalog scan: closed")
	}
	if err := s.flush(); err != nil {
		return err
	}
	if _, err := s.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("catalog spool: %w", err)
	}
	// Leave the offset at the end, where the writer appends.
	defer func() { _, _ = s.spool.Seek(0, io.SeekEnd) }()
	if size <= 0 {
		size = 1000
	}
	dec := json.NewDecoder(bufio.NewReaderSize(s.spool, 256<<10))
	batch := make([]yardstick.Entity, 0, size)
	for {
		var e yardstick.Entity
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("catalog spool: %w", err)
		}
		s.rel.resolve(&e)
		batch = append(batch, e)
		if len(batch) == size {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(batch); err != nil {
				return err
			}
			clear(batch)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// result reads the whole scan into memory, ordered by ref.
func (s *Scan) result(ctx context.Context) Result {
	res := Result{Notes: s.Notes, Errors: s.Errors, Files: s.Files}
	err := s.EachBatch(ctx, 1000, func(batch []yardstick.Entity) error {
		res.Entities = append(res.Entities, batch...)
		return nil
	})
	if err != nil {
		res.Errors = append(res.Errors, err)
	}
	sortEntities(res.Entities)
	return res
}

// relIndex keeps what resolving an entity needs to know about the others.
type relIndex struct {
	systemDomain map[yardstick.EntityRef]yardstick.EntityRef   // system → its domain
	namedAsChild map[yardstick.EntityRef]yardstick.EntityRef   // entity → first group naming it in spec.children
	childrenOf   map[yardstick.EntityRef][]yardstick.EntityRef // parent → groups naming it in spec.parent
	usersOf      map[yardstick.EntityRef][]yardstick.EntityRef // group → users naming it in spec.memberOf
	groupsNaming map[yardstick.EntityRef][]yardstick.EntityRef // user → groups naming it in spec.members
}

func newRelIndex() relIndex {
	return relIndex{
		systemDomain: map[yardstick.EntityRef]yardstick.EntityRef{}, namedAsChild: map[yardstick.EntityRef]yardstick.EntityRef{},
		childrenOf: map[yardstick.EntityRef][]yardstick.EntityRef{}, usersOf: map[yardstick.EntityRef][]yardstick.EntityRef{},
		groupsNaming: map[yardstick.EntityRef][]yardstick.EntityRef{},
	}
}

func (x relIndex) note(e yardstick.Entity) {
	switch e.Ref.Kind() {
	case "system":
		x.systemDomain[e.Ref] = e.Domain
	case "group":
		for _, c := range e.Children {
			if _, ok := x.namedAsChild[c]; !ok {
				x.namedAsChild[c] = e.Ref
			}
		}
		if e.Parent != "" {
			x.childrenOf[e.Parent] = append(x.childrenOf[e.Parent], e.Ref)
		}
		for _, m := range e.Members {
			x.groupsNaming[m] = append(x.groupsNaming[m], e.Ref)
		}
	case "user":
		for _, g := range e.MemberOf {
			x.usersOf[g] = append(x.usersOf[g], e.Ref)
		}
	}
}

// resolve fills what Backstage derives from other entities of the same scan.
func (x relIndex) resolve(e *yardstick.Entity) {
	if e.Domain == "" && e.System != "" {
		if d, ok := x.systemDomain[e.System]; ok {
			e.Domain = d
		}
	}
	if e.Parent == "" {
		if p, ok := x.namedAsChild[e.Ref]; ok {
			e.Parent = p
		}
	}
	switch e.Ref.Kind() {
	case "group":
		for _, c := range x.childrenOf[e.Ref] {
			if !containsRef(e.Children, c) {
				e.Children = append(e.Children, c)
			}
		}
		for _, u := range x.usersOf[e.Ref] {
			if !containsRef(e.Members, u) {
				e.Members = append(e.Members, u)
			}
		}
		sortRefs(e.Members)
		sortRefs(e.Children)
	case "user":
		for _, g := range x.groupsNaming[e.Ref] {
			if !containsRef(e.MemberOf, g) {
				e.MemberOf = append(e.MemberOf, g)
			}
		}
	}
}
