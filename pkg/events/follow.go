package events

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// DefaultPoll is how often Follow re-reads a quiet log when given no
// interval: the safety net for a lost notification, and the retry period
// while the log is unavailable.
const DefaultPoll = 2 * time.Second

// followPage is how many events Follow asks Range for at a time.
const followPage = 256

// Follow delivers every event of sid's log after afterID ("" = from the
// start) to deliver, exactly once and in order: first the backlog, then
// live events as they are appended, until ctx ends or deliver fails.
//
// It subscribes to log.Notify before its first read, so nothing appended
// meanwhile is missed, and always reads after the last id it delivered,
// so a wake-up that comes twice (or a replica that reads what another
// wrote) repeats nothing. A wake-up that never comes (a notification lost
// while a subscription reconnects) delays an event by at most poll
// (DefaultPoll when poll <= 0): Follow re-reads that often whatever
// happens.
//
// A read that fails with ErrUnavailable (Redis down) is retried on the next
// wake-up or poll, so a stream survives an outage and resumes where it was;
// meanwhile it is silent (the caller's heartbeats keep the connection). Any
// other read error (ErrInvalidSession, ErrInvalidID, ...) is returned at
// once. If the log no longer holds what followed afterID (trimmed by its
// cap, expired, or lost), Follow says so first: a StreamReset event, then
// the whole log as held. Loss is never silent.
//
// Follow does not end when the session does: its log just stays empty. The
// caller ends it, by ctx, at the session's expiry or revocation.
//
// Follow returns ctx.Err() when ctx ends (never nil: the caller can tell
// with errors.Is that it ended the stream itself), and deliver's error,
// unwrapped, when deliver fails; the event deliver failed on counts as
// not delivered.
func Follow(ctx context.Context, log Log, sid, afterID string, poll time.Duration, deliver func(Event) error) error {
	if _, err := CheckRange(sid, afterID, followPage); err != nil {
		return err
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	wake, cancel := log.Notify(sid)
	defer cancel()
	timer := time.NewTimer(poll)
	defer timer.Stop()
	last, err := resume(ctx, log, sid, afterID, poll, deliver)
	if err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		last, err = catchUp(ctx, log, sid, last, deliver)
		var de deliverError
		switch {
		case errors.As(err, &de):
			return de.err
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !errors.Is(err, ErrUnavailable):
			return err
		}
		// Caught up, or the log is unavailable: wait for a wake-up, or
		// the poll. (Timers since Go 1.23 need no draining before Reset.)
		timer.Reset(poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-timer.C:
		}
	}
}

// resume decides where a stream resuming after afterID starts. When the
// log no longer holds what followed afterID, silence would lose it: the
// stream starts with a StreamReset event and then delivers the whole log
// as held (from ""). While the log is unavailable, it waits and asks again.
func resume(ctx context.Context, log Log, sid, afterID string, poll time.Duration, deliver func(Event) error) (string, error) {
	for {
		gap, oldest, err := log.Gap(ctx, sid, afterID)
		switch {
		case errors.Is(err, ErrUnavailable):
			t := time.NewTimer(poll)
			select {
			case <-ctx.Done():
				t.Stop()
				return "", ctx.Err()
			case <-t.C:
			}
			continue
		case err != nil:
			return "", err
		case !gap:
			return afterID, nil
		}
		data, _ := json.Marshal(struct {
			OldestID string `json:"oldestId"`
		}{oldest})
		if err := deliver(Event{Type: StreamReset, Data: data}); err != nil {
			return "", err
		}
		return "", nil
	}
}

// deliverError marks an error of deliver, to be returned unwrapped.
type deliverError struct{ err error }

// Error returns deliver's error's text.
func (d deliverError) Error() string { return d.err.Error() }

// catchUp delivers, page by page, every event after last, and returns the
// id of the last one delivered.
func catchUp(ctx context.Context, log Log, sid, last string, deliver func(Event) error) (string, error) {
	for {
		page, err := log.Range(ctx, sid, last, followPage)
		if err != nil {
			return last, err
		}
		for _, e := range page {
			if err := ctx.Err(); err != nil {
				return last, err
			}
			if err := deliver(e); err != nil {
				return last, deliverError{err}
			}
			last = e.ID
		}
		if len(page) < followPage {
			return last, nil
		}
	}
}
