package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"
)

// The classes of a failed target round. Each is logged once when a target
// enters it and counted every time.
var (
	errAuth     = errors.New("authentication failure")
	errTimeout  = errors.New("no response")
	errRefused  = errors.New("connection refused")
	errCanceled = errors.New("poll ended before this target finished")
	// errUnknownMeter is the ResourceError cause for a meter this plugin does
	// not define.
	errUnknownMeter = errors.New("unknown meter for the snmp pollster (define it with a meter block)")
)

// classify turns a gosnmp error into one of the classes above with a
// message an operator can act on; parent is the round's context. The
// result never contains credentials (gosnmp errors hold none).
func classify(err error, parent context.Context, t *target) (string, error) {
	switch {
	case errors.Is(err, gosnmp.ErrWrongDigest):
		return "auth", fmt.Errorf("%w: the agent rejected the v3 auth password or auth_protocol of user %q (wrong digest)", errAuth, t.user)
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return "auth", fmt.Errorf("%w: the agent does not know v3 user %q", errAuth, t.user)
	case errors.Is(err, gosnmp.ErrDecryption):
		return "auth", fmt.Errorf("%w: the agent could not decrypt the request: wrong priv_password or priv_protocol for user %q", errAuth, t.user)
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return "auth", fmt.Errorf("%w: the agent does not accept this security_level for user %q", errAuth, t.user)
	case strings.Contains(err.Error(), "not authentic"), strings.Contains(err.Error(), "is not authenticated"):
		// The agent's report is unauthenticated, so gosnmp cannot read it;
		// diagnoseAuth asks again without authentication to tell why.
		return "auth", fmt.Errorf("%w: the agent did not accept the credentials of v3 user %q", errAuth, t.user)
	case errors.Is(err, errMalformed):
		return "malformed", err
	case strings.Contains(err.Error(), "sanity"), strings.Contains(err.Error(), "unmarshal"), strings.Contains(err.Error(), "parse"):
		return "malformed", fmt.Errorf("%w: %v", errMalformed, err)
	case parent.Err() != nil || pastDeadline(parent):
		// gosnmp's socket deadline is the round's: it may fire a moment
		// before the context notices.
		cause := parent.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return "canceled", fmt.Errorf("%w: %v", errCanceled, cause)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused", fmt.Errorf("%w: nothing listens on UDP port %d", errRefused, t.port)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, gosnmp.ErrMaxRetriesExceeded),
		strings.Contains(err.Error(), "timeout"), strings.Contains(err.Error(), "i/o timeout"):
		hint := "; agents do not answer a wrong community"
		if t.version == gosnmp.Version3 {
			hint = "; agents do not answer a wrong v3 priv_password or priv_protocol"
		}
		return "timeout", fmt.Errorf("%w within %s and %d retries (agent down or unreachable%s)", errTimeout, t.timeout, t.retries, hint)
	}
	return "error", err
}

func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// diagnoseAuth tells an unknown v3 user from a wrong auth password, which
// look alike to gosnmp (the agent's report is unauthenticated): it asks
// once at noAuthNoPriv, where the agent's usmStatsUnknownUserNames report is
// readable. Only called after an auth failure.
func diagnoseAuth(ctx context.Context, t *target) error {
	g := t.session()
	g.MsgFlags = gosnmp.NoAuthNoPriv | gosnmp.Reportable
	g.SecurityParameters = &gosnmp.UsmSecurityParameters{UserName: t.user}
	g.Retries = 0
	g.Context = ctx
	if err := g.Connect(); err != nil {
		return nil
	}
	defer func() { _ = g.Conn.Close() }()
	_, err := g.Get([]string{".1.3.6.1.2.1.1.3.0"})
	switch {
	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return fmt.Errorf("%w: the agent does not know v3 user %q", errAuth, t.user)
	case err == nil, errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return fmt.Errorf("%w: the agent rejected the auth password or auth_protocol (%s) of v3 user %q (wrong digest)", errAuth, authName(t.authProto), t.user)
	}
	return nil
}

func authName(p gosnmp.SnmpV3AuthProtocol) string {
	return strings.ToLower(p.String())
}
