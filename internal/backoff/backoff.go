package backoff

import (
	"context"
	"time"
)

// Delay is the wait before retry n (1-based) of an exponential backoff:
// lo doubled n-1 times, never more than hi. n below 1 counts as 1.
func Delay(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for k := 1; k < n && d < hi; k++ {
		d *= 2
	}
	return min(d, hi)
}

// Exp is a running exponential backoff for a retry loop: Next gives the
// wait and doubles the following one up to Max; Reset starts again at Min.
// The zero value of cur means Min. Not safe for concurrent use.
type Exp struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the delay to wait now and doubles the next one, up to Max.
func (e *Exp) Next() time.Duration {
	d := e.cur
	if d < e.Min {
		d = e.Min
	}
	d = min(d, e.Max)
	e.cur = min(2*d, e.Max)
	return d
}

// Peek returns the delay Next would return, without advancing.
func (e *Exp) Peek() time.Duration {
	return min(max(e.cur, e.Min), e.Max)
}

// Reset makes the next delay Min again (after a success).
func (e *Exp) Reset() { e.cur = 0 }

// Sleep waits d, or less if ctx ends first, and reports whether the whole
// d elapsed (false: ctx is done).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
