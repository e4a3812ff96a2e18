// Package spool is Yardstick's durable webhook queue: a write-ahead log under
// the data dir. A webhook handler writes its converted events and facts to the
// spool, which returns only once they are fsynced; a drain goroutine then
// writes them to the store in order, retrying with backoff while the store is
// unavailable, and records how far it got. On restart the spool replays what
// the store has not confirmed. The store's writes are idempotent by source
// identity, so a record replayed after a crash between the write and its
// confirmation keeps one row.
//
// On disk: segment files <seq>.seg of records framed as
//
//	uint32 length | uint32 CRC-32C of the payload | payload (JSON)
//
// (little endian), and a file "ack" holding the segment and offset up to which
// the store confirmed every record. A torn record at the end of the last
// segment (a crash mid-append, never acknowledged) is cut off at open.
package spool

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/gofrs/flock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/yardstick-dev/yardstick"
)

// Defaults of Config.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultSegmentBytes = 8 << 20
	DefaultRetryAfter   = 30 * time.Second
	maxRecordBytes      = 64 << 20
	headerBytes         = 8
	drainBatchRows      = 2000
)

// ErrFull is returned by WriteEvents and WriteFacts when the spool holds
// MaxBytes already. It wraps yardstick.ErrUnavailable: answer 503 with
// Retry-After, the sender tries again later.
var ErrFull = fmt.Errorf("webhook spool full: %w", yardstick.ErrUnavailable)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Writer is where the spool drains to: the store (collectors.Writer plus the
// deletion a reopened PagerDuty incident needs).
type Writer interface {
	WriteEvents(ctx context.Context, events []yardstick.Event) error
	WriteFacts(ctx context.Context, facts []yardstick.Fact) error
	DeleteEvents(ctx context.Context, events []yardstick.Event) error
}

// Config configures a spool.
type Config struct {
	Dir          string // e.g. <data dir>/spool; created if missing
	MaxBytes     int64  // bound of what is not yet drained; default DefaultMaxBytes
	SegmentBytes int64  // segment size before a new one is started; default DefaultSegmentBytes
	// RetryAfter is what a full spool asks senders to wait (RetryAfter()).
	RetryAfter time.Duration
	// Backoff returns the retry schedule of a failing drain; default
	// exponential from 200ms to 30s, forever.
	Backoff    func() backoff.BackOff
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

// record is one write: the payload of one webhook delivery.
type record struct {
	At      time.Time         `json:"at"`
	Events  []yardstick.Event `json:"events,omitempty"`
	Facts   []yardstick.Fact  `json:"facts,omitempty"`
	Deleted []yardstick.Event `json:"deleted,omitempty"` // withdrawn events (tombstones)
}

func (r record) rows() int { return len(r.Events) + len(r.Facts) + len(r.Deleted) }

// kind groups records that can be written together.
func (r record) kind() int {
	switch {
	case len(r.Deleted) > 0:
		return 2
	case len(r.Events) > 0:
		return 0
	}
	return 1
}

// pending is a record on disk not yet drained.
type pending struct {
	seg  uint64
	off  int64 // start of the record's header
	size int64 // header + payload
	at   time.Time
}

// Spool is an open spool. WriteEvents and WriteFacts are safe for concurrent
// use; Run drains it (one Run at a time).
type Spool struct {
	cfg    Config
	sink   Writer
	logger *slog.Logger
	now    func() time.Time
	m      *metrics

	lock *flock.Flock // one process per spool directory

	syncMu sync.Mutex // one fsync at a time
	synced int64      // s.written position known to be on disk

	mu      sync.Mutex
	cur     *os.File // the segment appended to
	curSeq  uint64
	curSize int64
	queue   []pending // not yet drained, in order
	bytes   int64     // sum of queue sizes
	written int64     // bytes appended since Open, a position for group commit
	closed  bool
	wake    chan struct{}
}

// Open opens (or creates) the spool in cfg.Dir draining into sink, and finds
// what a previous process left undrained.
func Open(cfg Config, sink Writer) (*Spool, error) {
	if cfg.Dir == "" || sink == nil {
		return nil, fmt.Errorf("spool: a directory and a writer are required: %w", yardstick.ErrInvalid)
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = DefaultSegmentBytes
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 200*time.Millisecond, 30*time.Second, 0
			return b
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool dir %s: %w", cfg.Dir, err)
	}
	s := &Spool{cfg: cfg, sink: sink, logger: cfg.Logger, now: cfg.Now, wake: make(chan struct{}, 1)}
	s.lock = flock.New(filepath.Join(cfg.Dir, "lock"))
	if ok, err := s.lock.TryLock(); err != nil || !ok {
		return nil, fmt.Errorf("spool dir %s is in use by another Yardstick process (one serve per data dir): %w", cfg.Dir, errors.Join(err, yardstick.ErrInvalid))
	}
	if err := s.load(); err != nil {
		_ = s.lock.Unlock()
		return nil, err
	}
	s.m = newMetrics(cfg.Registerer, s)
	if len(s.queue) > 0 {
		s.logger.Info("spool replays undrained webhook deliveries", "records", len(s.queue), "bytes", s.bytes, "dir", cfg.Dir)
		s.signal()
	}
	return s, nil
}

func segName(seq uint64) string { return fmt.Sprintf("%020d.seg", seq) }

// segments lists the segment sequence numbers in the directory, in order.
func (s *Spool) segments() ([]uint64, error) {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("read spool dir %s: %w", s.cfg.Dir, err)
	}
	var out []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// load reads the ack position and indexes every record after it, cutting a
// torn tail off the last segment.
func (s *Spool) load() error {
	ackSeg, ackOff, err := s.readAck()
	if err != nil {
		return err
	}
	segs, err := s.segments()
	if err != nil {
		return err
	}
	for i, seq := range segs {
		path := filepath.Join(s.cfg.Dir, segName(seq))
		if seq < ackSeg {
			_ = os.Remove(path) // drained before a crash could delete it
			continue
		}
		start := int64(0)
		if seq == ackSeg {
			start = ackOff
		}
		good, recs, err := scanSegment(path, seq, start)
		if err != nil {
			return err
		}
		last := i == len(segs)-1
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("spool segment %s: %w", path, err)
		}
		if good < fi.Size() {
			if last {
				s.logger.Warn("spool: cutting a torn record off the last segment (it was never acknowledged)", "segment", path, "at", good, "size", fi.Size())
				if err := os.Truncate(path, good); err != nil {
					return fmt.Errorf("truncate spool segment %s: %w", path, err)
				}
			} else {
				s.logger.Error("spool: corrupt record in a full segment; the rest of the segment is skipped", "segment", path, "at", good, "size", fi.Size())
			}
		}
		for _, r := range recs {
			s.queue = append(s.queue, r)
			s.bytes += r.size
		}
	}
	// Append to the last segment; a new one when none is left at or after the
	// ack (the ack's offset belongs to a segment that no longer exists).
	next := ackSeg + 1
	if len(segs) > 0 && segs[len(segs)-1] >= ackSeg {
		next = segs[len(segs)-1]
	}
	return s.openSegment(next)
}

// scanSegment reads the records of one segment from start. It returns the
// offset after the last whole, valid record, and the records.
func scanSegment(path string, seq uint64, start int64) (int64, []pending, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("open spool segment %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return 0, nil, fmt.Errorf("seek spool segment %s: %w", path, err)
	}
	var recs []pending
	off := start
	for {
		rec, payload, err := readRecord(f)
		if err != nil {
			return off, recs, nil // EOF or a torn/corrupt record: stop here
		}
		size := int64(headerBytes + len(payload))
		recs = append(recs, pending{seg: seq, off: off, size: size, at: rec.At})
		off += size
	}
}

func readRecord(r io.Reader) (record, []byte, error) {
	var hdr [headerBytes]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return record{}, nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[0:4])
	if n == 0 || n > maxRecordBytes {
		return record{}, nil, fmt.Errorf("record length %d: %w", n, errCorrupt)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return record{}, nil, err
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
		return record{}, nil, fmt.Errorf("record checksum: %w", errCorrupt)
	}
	var rec record
	if err := json.Unmarshal(payload, &rec); err != nil {
		return record{}, nil, fmt.Errorf("record payload: %w: %w", errCorrupt, err)
	}
	return rec, payload, nil
}

var errCorrupt = errors.New("corrupt spool record")

func (s *Spool) openSegment(seq uint64) error {
	path := filepath.Join(s.cfg.Dir, segName(seq))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open spool segment %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat spool segment %s: %w", path, err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		f.Close()
		return err
	}
	if s.cur != nil {
		// Its bytes must be on disk before a group commit could find it closed.
		if err := s.cur.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("sync spool segment: %w", err)
		}
		s.cur.Close()
	}
	s.cur, s.curSeq, s.curSize = f, seq, fi.Size()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open spool dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync spool dir %s: %w", dir, err)
	}
	return nil
}

// WriteEvents appends events to the spool and returns once they are on disk
// (fsynced). It returns ErrFull (wrapping yardstick.ErrUnavailable) when the
// spool is full. The events reach the store later, through Run.
func (s *Spool) WriteEvents(ctx context.Context, events []yardstick.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.append(record{Events: events})
}

// DeleteEvents appends the withdrawal of events like WriteEvents; it reaches
// the store after every record written before it.
func (s *Spool) DeleteEvents(ctx context.Context, events []yardstick.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.append(record{Deleted: events})
}

// WriteFacts appends facts like WriteEvents.
func (s *Spool) WriteFacts(ctx context.Context, facts []yardstick.Fact) error {
	if len(facts) == 0 {
		return nil
	}
	return s.append(record{Facts: facts})
}

func (s *Spool) append(rec record) error {
	rec.At = s.now().UTC()
	payload, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode spool record: %w: %w", yardstick.ErrInvalid, err)
	}
	if len(payload) > maxRecordBytes {
		return fmt.Errorf("spool record of %d bytes over %d: %w", len(payload), maxRecordBytes, yardstick.ErrInvalid)
	}
	buf := make([]byte, headerBytes+len(payload))
	binary.LittleEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[4:8], crc32.Checksum(payload, castagnoli))
	copy(buf[headerBytes:], payload)
	size := int64(len(buf))

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("spool closed: %w", yardstick.ErrUnavailable)
	}
	if s.bytes+size > s.cfg.MaxBytes {
		s.mu.Unlock()
		s.m.rejected.Inc()
		return ErrFull
	}
	if s.curSize > 0 && s.curSize+size > s.cfg.SegmentBytes {
		if err := s.openSegment(s.curSeq + 1); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	off := s.curSize
	if _, err := s.cur.Write(buf); err != nil {
		// A short write leaves a torn record: cut it so the next append starts clean.
		_ = s.cur.Truncate(off)
		s.mu.Unlock()
		return fmt.Errorf("write spool segment: %w", err)
	}
	s.curSize += size
	s.written += size
	through := s.written
	s.queue = append(s.queue, pending{seg: s.curSeq, off: off, size: size, at: rec.At})
	s.bytes += size
	s.mu.Unlock()
	s.signal()
	// Acknowledge only once the record is on disk.
	if err := s.syncThrough(through); err != nil {
		return err
	}
	s.m.written.Inc()
	return nil
}

// syncThrough returns once every byte appended up to position through (of
// s.written) is fsynced. Concurrent appends share one fsync: the first to get
// here syncs everything written so far, the others find it done (group commit).
func (s *Spool) syncThrough(through int64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= through {
		return nil
	}
	s.mu.Lock()
	target, f := s.written, s.cur
	s.mu.Unlock()
	// A segment is fsynced before it is closed (rotation, Close): ErrClosed
	// means its bytes are on disk already.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("sync spool segment: %w", err)
	}
	s.synced = target
	return nil
}

func (s *Spool) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats is what the spool holds now.
type Stats struct {
	Records int
	Bytes   int64
	Oldest  time.Time // zero when empty
}

// Stats returns the spool's depth. Safe for concurrent use.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Records: len(s.queue), Bytes: s.bytes}
	if len(s.queue) > 0 {
		st.Oldest = s.queue[0].at
	}
	return st
}

// RetryAfter is how long a sender refused with ErrFull should wait.
func (s *Spool) RetryAfter() time.Duration { return s.cfg.RetryAfter }

// Run drains the spool into the store until ctx ends: records in order,
// consecutive records merged into one write of up to a few thousand rows,
// each write retried with backoff until it succeeds. A record the store
// refuses as invalid (yardstick.ErrInvalid) can never succeed: it is logged
// and dropped. Run returns nil when ctx ends; what is left stays on disk.
func (s *Spool) Run(ctx context.Context) error {
	for {
		batch := s.head()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
				continue
			}
		}
		if err := s.drain(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// head returns the first undrained records (at most drainBatchRows rows).
func (s *Spool) head() []pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(s.queue), 1000)
	return append([]pending(nil), s.queue[:n]...)
}

// drain reads batch from disk and writes it to the store, in order.
func (s *Spool) drain(ctx context.Context, batch []pending) error {
	recs, err := s.read(batch)
	if err != nil {
		return err
	}
	// Write runs of the same kind together, up to drainBatchRows rows.
	i := 0
	for i < len(recs) {
		j, rows := i, 0
		var run record
		for j < len(recs) && recs[j].kind() == recs[i].kind() && (rows == 0 || rows+recs[j].rows() <= drainBatchRows) {
			run.Events = append(run.Events, recs[j].Events...)
			run.Facts = append(run.Facts, recs[j].Facts...)
			run.Deleted = append(run.Deleted, recs[j].Deleted...)
			rows += recs[j].rows()
			j++
		}
		err := s.writeWithRetry(ctx, run)
		if errors.Is(err, yardstick.ErrInvalid) {
			// Find the record the store refuses: write the run one by one, so
			// only that one is dropped.
			for k := i; k < j; k++ {
				err := s.writeWithRetry(ctx, recs[k])
				if errors.Is(err, yardstick.ErrInvalid) {
					s.m.dropped.Add(float64(recs[k].rows()))
					s.logger.ErrorContext(ctx, "spool: store refuses a record as invalid; dropped", "segment", segName(batch[k].seg), "offset", batch[k].off, "err", err)
				} else if err != nil {
					return err
				}
				if err := s.confirm(batch[k], 1); err != nil {
					return err
				}
			}
			i = j
			continue
		}
		if err != nil {
			return err
		}
		if err := s.confirm(batch[j-1], j-i); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (s *Spool) writeWithRetry(ctx context.Context, r record) error {
	b := backoff.WithContext(s.cfg.Backoff(), ctx)
	op := func() error {
		var err error
		switch {
		case len(r.Deleted) > 0:
			err = s.sink.DeleteEvents(ctx, r.Deleted)
		case len(r.Events) > 0:
			err = s.sink.WriteEvents(ctx, r.Events)
		default:
			err = s.sink.WriteFacts(ctx, r.Facts)
		}
		if errors.Is(err, yardstick.ErrInvalid) {
			return backoff.Permanent(err)
		}
		if err != nil {
			s.m.retries.Inc()
			s.logger.WarnContext(ctx, "spool: store write failed; retrying", "rows", r.rows(), "err", err)
		}
		return err
	}
	return backoff.Retry(op, b)
}

// read loads the records of batch from their segments.
func (s *Spool) read(batch []pending) ([]record, error) {
	out := make([]record, 0, len(batch))
	var f *os.File
	var fseq uint64
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for _, p := range batch {
		if f == nil || fseq != p.seg {
			if f != nil {
				f.Close()
			}
			var err error
			if f, err = os.Open(filepath.Join(s.cfg.Dir, segName(p.seg))); err != nil {
				return nil, fmt.Errorf("open spool segment: %w", err)
			}
			fseq = p.seg
		}
		rec, _, err := readRecord(io.NewSectionReader(f, p.off, p.size))
		if err != nil {
			return nil, fmt.Errorf("read spool segment %s at %d: %w", segName(p.seg), p.off, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// confirm records that the first n queued records, ending with last, are in
// the store, and deletes segments left behind.
func (s *Spool) confirm(last pending, n int) error {
	if err := s.writeAck(last.seg, last.off+last.size); err != nil {
		return err
	}
	s.mu.Lock()
	var drop int64
	for _, p := range s.queue[:n] {
		drop += p.size
	}
	s.queue = append(s.queue[:0:0], s.queue[n:]...)
	s.bytes -= drop
	cur := s.curSeq
	s.mu.Unlock()
	s.m.drained.Add(float64(n))
	segs, err := s.segments()
	if err != nil {
		return err
	}
	for _, seq := range segs {
		if seq < last.seg && seq < cur {
			_ = os.Remove(filepath.Join(s.cfg.Dir, segName(seq)))
		}
	}
	return nil
}

func (s *Spool) ackPath() string { return filepath.Join(s.cfg.Dir, "ack") }

func (s *Spool) readAck() (uint64, int64, error) {
	b, err := os.ReadFile(s.ackPath())
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read spool ack: %w", err)
	}
	var seq uint64
	var off int64
	if _, err := fmt.Sscanf(string(b), "%d %d", &seq, &off); err != nil {
		return 0, 0, fmt.Errorf("spool ack file %s: %q: %w", s.ackPath(), b, err)
	}
	return seq, off, nil
}

// writeAck replaces the ack file atomically (write, fsync, rename).
func (s *Spool) writeAck(seq uint64, off int64) error {
	tmp := s.ackPath() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write spool ack: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%d %d\n", seq, off); err != nil {
		f.Close()
		return fmt.Errorf("write spool ack: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync spool ack: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write spool ack: %w", err)
	}
	if err := os.Rename(tmp, s.ackPath()); err != nil {
		return fmt.Errorf("write spool ack: %w", err)
	}
	return nil
}

// Close closes the segment being written; later writes fail with
// ErrUnavailable. Stop Run first.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.cur.Sync(), s.cur.Close(), s.lock.Unlock())
}
