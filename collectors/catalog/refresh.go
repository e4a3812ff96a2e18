package catalog

import (
	"context"
	"fmt"
)

// A Sink stores one scan of a source: its entities replace the source's
// stored ones (or are only added and updated when the scan has errors).
type Sink interface {
	StoreScan(ctx context.Context, scan *Scan) error
}

// Refresh reads src and hands what it found to sink. serve runs it for every
// configured source as a job of its own, on the source's interval, so a source
// that fails (unreachable, broken files, refused shrink) never holds up the
// others. Errors in the source's files are returned after the good entities
// were stored, each with its file:line.
func (im *Importer) Refresh(ctx context.Context, src Source, sink Sink) error {
	scan, err := im.Read(ctx, src)
	if err != nil {
		return fmt.Errorf("catalog source %s: %w", src.Name, err)
	}
	defer scan.Close()
	if err := sink.StoreScan(ctx, scan); err != nil {
		return fmt.Errorf("catalog source %s: %w", src.Name, err)
	}
	if err := scan.Err(); err != nil {
		return fmt.Errorf("catalog source %s: %d error(s), nothing removed: %w", src.Name, len(scan.Errors), err)
	}
	return nil
}
