package ttlcache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/causeflow/widget-sessions/internal/ttlcache"
)

func newCache(t *testing.T, max int) *ttlcache.Cache[string, int] {
	t.Helper()
	return ttlcache.New[string, int](max, nil)
}

func TestNewRefusesNoRoom(t *testing.T) {
	for _, n := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d) did not panic", n)
				}
			}()
			ttlcache.New[string, int](n, nil)
		}()
	}
}

// TestExpiry: an entry is served until its expiry, exclusive, and not
// after; a TTL that is not positive caches nothing.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, 10)
		c.Put("a", 1, time.Minute)
		c.Put("zero", 1, 0)
		c.Put("negative", 1, -time.Second)
		time.Sleep(time.Minute - time.Nanosecond)
		if v, ok := c.Get("a"); !ok || v != 1 {
			t.Errorf("just before expiry: %d %v, want 1 true", v, ok)
		}
		time.Sleep(time.Nanosecond)
		if _, ok := c.Get("a"); ok {
			t.Error("at expiry: still cached")
		}
		for _, k := range []string{"zero", "negative"} {
			if _, ok := c.Get(k); ok {
				t.Errorf("%s TTL: cached", k)
			}
		}
		if c.Len() != 0 {
			t.Errorf("Len = %d after every entry expired and was read, want 0", c.Len())
		}
	})
}

// TestBound: the cache never holds more than its bound, and an insert
// into a full cache drops an expired entry before a fresh one.
func TestBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, 8)
		c.Put("old", 0, time.Second)
		for i := range 7 {
			c.Put(fmt.Sprint(i), i, time.Hour)
		}
		time.Sleep(time.Second)
		c.Put("new", 1, time.Hour)
		if c.Len() != 8 {
			t.Fatalf("Len = %d, want 8", c.Len())
		}
		for i := range 7 {
			if _, ok := c.Get(fmt.Sprint(i)); !ok {
				t.Errorf("fresh entry %d was evicted while an expired one was held", i)
			}
		}
		for i := range 1000 {
			c.Put(fmt.Sprint("flood", i), i, time.Hour)
		}
		if c.Len() != 8 {
			t.Errorf("Len = %d after a flood, want the bound, 8", c.Len())
		}
		c.Put("flood999", 5, time.Hour) // replacing does not evict
		if v, _ := c.Get("flood999"); v != 5 || c.Len() != 8 {
			t.Errorf("replace: %d, Len %d", v, c.Len())
		}
		c.Delete("flood999")
		if _, ok := c.Get("flood999"); ok {
			t.Error("Delete: still cached")
		}
	})
}

// TestDoSharesOneLoad: concurrent Do calls for one key run one load, and
// all get its value; the value is then cached for the TTL the load gave.
func TestDoSharesOneLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, 10)
		var loads atomic.Int32
		load := func(context.Context) (int, time.Duration, error) {
			loads.Add(1)
			time.Sleep(time.Second) // a slow source
			return 42, time.Minute, nil
		}
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if v, err := c.Do(t.Context(), "k", load); v != 42 || err != nil {
					t.Errorf("Do = %d, %v", v, err)
				}
			})
		}
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Errorf("%d loads for 20 concurrent callers, want 1", n)
		}
		if v, err := c.Do(t.Context(), "k", load); v != 42 || err != nil || loads.Load() != 1 {
			t.Errorf("cached: %d %v after %d loads", v, err, loads.Load())
		}
		time.Sleep(time.Minute)
		if _, err := c.Do(t.Context(), "k", load); err != nil || loads.Load() != 2 {
			t.Errorf("after the TTL: %v, %d loads, want a second load", err, loads.Load())
		}
	})
}

// TestDoErrorsAreNotCached: every caller sharing a failed load gets its
// error, and the next call loads again; a load may also decline to cache.
func TestDoErrorsAreNotCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, 10)
		boom := errors.New("source down")
		if _, err := c.Do(t.Context(), "k", func(context.Context) (int, time.Duration, error) {
			return 0, time.Hour, boom
		}); !errors.Is(err, boom) {
			t.Errorf("Do = %v, want the load's error", err)
		}
		if _, ok := c.Get("k"); ok {
			t.Error("an error was cached")
		}
		if v, err := c.Do(t.Context(), "k", func(context.Context) (int, time.Duration, error) { return 7, 0, nil }); v != 7 || err != nil {
			t.Errorf("Do = %d %v", v, err)
		}
		if _, ok := c.Get("k"); ok {
			t.Error("a value loaded with no TTL was cached")
		}
		if _, err := c.Do(t.Context(), "p", func(context.Context) (int, time.Duration, error) { panic("bug") }); err == nil {
			t.Error("a panicking load: no error")
		}
	})
}

// TestDoCallerGivesUp: a caller whose context ends stops waiting at once;
// the load goes on, undisturbed, for the callers still waiting and for the
// cache. A caller already gone starts no load.
func TestDoCallerGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, 10)
		var loadCtxErr error
		load := func(ctx context.Context) (int, time.Duration, error) {
			time.Sleep(time.Second)
			loadCtxErr = ctx.Err()
			return 9, time.Minute, nil
		}
		impatient, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		done := make(chan int)
		go func() {
			v, _ := c.Do(t.Context(), "k", load)
			done <- v
		}()
		synctest.Wait()
		start := time.Now()
		if _, err := c.Do(impatient, "k", load); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Millisecond {
			t.Errorf("the impatient caller: %v after %v, want its deadline after 100ms", err, time.Since(start))
		}
		if v := <-done; v != 9 || loadCtxErr != nil {
			t.Errorf("the patient caller got %d; the load saw %v", v, loadCtxErr)
		}
		gone, cancelGone := context.WithCancel(t.Context())
		cancelGone()
		called := false
		if _, err := c.Do(gone, "other", func(context.Context) (int, time.Duration, error) { called = true; return 0, 0, nil }); !errors.Is(err, context.Canceled) || called {
			t.Errorf("a caller already gone: %v, load called %v", err, called)
		}
	})
}
