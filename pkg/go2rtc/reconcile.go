package go2rtc

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// ReconcileResult says what a reconcile changed.
type ReconcileResult struct {
	Added   []string
	Updated []string
	Deleted []string
}

// Changed reports whether go2rtc needed any change.
func (r ReconcileResult) Changed() bool {
	return len(r.Added)+len(r.Updated)+len(r.Deleted) > 0
}

// Reconcile makes go2rtc's stream list equal to want: missing streams are PUT,
// streams whose sources differ are PUT again, streams we do not want are DELETEd.
// Names for which keep returns true are left alone even when unwanted (nil keeps
// nothing): the user's override file may define streams of its own.
//
// go2rtc reports a source's configured URL only while it is idle; a connected
// source shows its live connection instead, which may differ (exec sources show
// their output URL). A connected stream is therefore treated as unchanged:
// re-registering a stream that is being read would cut its readers off on a
// guess. Changes we make ourselves are PUT directly, not left to Reconcile.
func Reconcile(ctx context.Context, c *Client, want []Stream, keep func(name string) bool) (ReconcileResult, error) {
	var res ReconcileResult
	have, err := c.Streams(ctx)
	if err != nil {
		return res, fmt.Errorf("reconcile go2rtc streams: %w", err)
	}
	wanted := make(map[string]bool, len(want))
	var errs []error
	sorted := append([]Stream(nil), want...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, st := range sorted {
		wanted[st.Name] = true
		cur, ok := have[st.Name]
		switch {
		case !ok:
			if err := c.PutStream(ctx, st.Name, st.Sources); err != nil {
				errs = append(errs, err)
				continue
			}
			res.Added = append(res.Added, st.Name)
		case !SameSources(cur, st.Sources):
			if err := c.PutStream(ctx, st.Name, st.Sources); err != nil {
				errs = append(errs, err)
				continue
			}
			res.Updated = append(res.Updated, st.Name)
		}
	}
	names := make([]string, 0, len(have))
	for name := range have {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if wanted[name] || (keep != nil && keep(name)) {
			continue
		}
		if err := c.DeleteStream(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Deleted = append(res.Deleted, name)
	}
	return res, errors.Join(errs...)
}

// SameSources reports whether go2rtc's stream carries the wanted sources. Idle
// producers are compared by URL; a connected producer counts as matching (see
// Reconcile) as long as the number of sources agrees.
func SameSources(si StreamInfo, want []string) bool {
	if len(si.Producers) != len(want) {
		return false
	}
	for i, p := range si.Producers {
		if p.Connected() {
			continue
		}
		if p.URL != want[i] {
			return false
		}
	}
	return true
}
