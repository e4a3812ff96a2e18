package notify

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WritePlan prints what Preview returned: a table of every delivery with its
// state, then the text of each one that is due or held by quiet hours
// (`yardstick notify preview`).
func WritePlan(w io.Writer, plan []Planned) error {
	if len(plan) == 0 {
		_, err := fmt.Fprintln(w, "Nothing is due.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tWHEN\tTRIGGER\tGROUP\tTO\tTITLE")
	for _, p := range plan {
		when := ""
		if !p.At.IsZero() {
			when = p.At.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.State, when, p.Notification.Trigger, cmp.Or(string(p.Notification.Group), "(platform)"), p.Target, p.Notification.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, p := range plan {
		if p.State != StateDue && p.State != StateQuiet {
			continue
		}
		fmt.Fprintf(w, "--- %s → %s\n%s\n", p.Notification.Trigger, p.Target, strings.TrimSpace(p.Notification.Text()))
	}
	return nil
}
