package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestBufferedLog: with a flush interval, an info line waits at most that
// long; a warning is written at once, after the lines before it; closing
// writes everything. Without one, every line is written at once.
func TestBufferedLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newLogBuffer()
		logger, closeLog := newLogger("info", time.Second, out)
		logger.Info("first")
		if out.String() != "" {
			t.Fatalf("an info line was written at once: %q", out.String())
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if !strings.Contains(out.String(), `"msg":"first"`) {
			t.Fatalf("an info line was not written within the flush interval: %q", out.String())
		}
		logger.Info("second")
		logger.With().Warn("third")
		if s := out.String(); !strings.Contains(s, `"msg":"second"`) || strings.Index(s, `"second"`) > strings.Index(s, `"third"`) {
			t.Fatalf("a warning did not write out the buffer, in order: %q", s)
		}
		logger.Info("last")
		closeLog()
		if !strings.Contains(out.String(), `"msg":"last"`) {
			t.Fatalf("closing did not write the buffer: %q", out.String())
		}
	})
	out := newLogBuffer()
	logger, closeLog := newLogger("info", 0, out)
	defer closeLog()
	logger.Info("now")
	if !strings.Contains(out.String(), `"msg":"now"`) {
		t.Errorf("unbuffered: an info line was not written at once: %q", out.String())
	}
}

// TestLogToPipe: with stderr a pipe (every container runtime, systemd,
// `| tee`), which cannot be synced, a warning and the close write their
// lines and nothing else: no "write error: sync" after each.
func TestLogToPipe(t *testing.T) {
	for _, flush := range []time.Duration{0, time.Second} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan string)
		go func() {
			b, _ := io.ReadAll(r)
			read <- string(b)
		}()
		logger, closeLog := newLogger("info", flush, w)
		logger.Warn("careful")
		logger.Info("done")
		closeLog()
		_ = logger.Sync()
		w.Close()
		out := <-read
		if strings.Contains(out, "write error") || strings.Count(out, "\n") != 2 {
			t.Errorf("flush %v: the log on a pipe is not just its two lines:\n%s", flush, out)
		}
	}
}
