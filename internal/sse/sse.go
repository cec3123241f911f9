// Package sse writes and reads Server-Sent Events, the text/event-stream
// format of the WHATWG HTML standard: the widget's stream is written with
// a Writer, and the OpenAI-compatible assistant's streamed answer is read
// with a Reader. One implementation of the framing, in one place.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Writer writes events to an HTTP response, flushing each one so that it
// leaves at once, and bounding each write: a client that stops reading is
// dropped instead of holding a goroutine and a buffer forever.
type Writer struct {
	w        io.Writer
	flush    func() error
	deadline func(time.Time) error
	timeout  time.Duration
	buf      bytes.Buffer
}

// NewWriter returns a Writer on w; each event must be written within
// timeout (0: no bound).
func NewWriter(w http.ResponseWriter, timeout time.Duration) *Writer {
	rc := http.NewResponseController(w)
	return &Writer{w: w, flush: rc.Flush, deadline: rc.SetWriteDeadline, timeout: timeout}
}

// Hijack takes the connection of an HTTP/1.x response from net/http and
// returns a Writer on it, having written the response's head: status 200,
// the headers set on w, and Connection: close (the body ends when the
// connection does). Once it returns, the handler may return while the
// stream goes on: net/http's goroutine, buffers and background reader for
// the connection are let go, and a held stream costs what the caller keeps
// and the socket. Nothing reads the connection any more: a client that
// left is found out by the next write (a heartbeat).
//
// It returns ErrNotHijackable, having written nothing, when the connection
// cannot be taken (HTTP/2, a recorder): the caller streams through w
// instead. Close the returned connection when the stream ends; Alive
// tells whether its client is still there.
func Hijack(w http.ResponseWriter, timeout time.Duration) (*Writer, net.Conn, error) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrNotHijackable, err)
	}
	h := w.Header().Clone()
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	if err := h.Write(&head); err != nil {
		conn.Close()
		return nil, nil, err
	}
	head.WriteString("\r\n")
	// What net/http buffered for the client is written first, then the
	// buffers are dropped: writes go straight to the socket.
	if rw.Writer.Buffered() > 0 {
		if err := rw.Flush(); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	s := &Writer{w: conn, flush: func() error { return nil }, deadline: conn.SetWriteDeadline, timeout: timeout}
	s.buf.Write(head.Bytes())
	if err := s.send(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return s, conn, nil
}

// ErrNotHijackable is wrapped by Hijack's error when the connection cannot
// be taken from net/http.
var ErrNotHijackable = errors.New("sse: the connection cannot be hijacked")

// Event writes one event: its id (none when empty), its type and its data.
// A newline in data starts another data line, as the format requires;
// compacted JSON takes one.
func (s *Writer) Event(id, typ string, data []byte) error {
	s.buf.Reset()
	if id != "" {
		s.buf.WriteString("id: " + oneLine(id) + "\n")
	}
	if typ != "" {
		s.buf.WriteString("event: " + oneLine(typ) + "\n")
	}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		s.buf.WriteString("data: ")
		s.buf.Write(bytes.TrimSuffix(line, []byte("\r")))
		s.buf.WriteByte('\n')
	}
	s.buf.WriteByte('\n')
	return s.send()
}

// Comment writes a comment line (a heartbeat: proxies see traffic, clients
// ignore it).
func (s *Writer) Comment(text string) error {
	s.buf.Reset()
	s.buf.WriteString(": " + oneLine(text) + "\n\n")
	return s.send()
}

// Retry tells the client how long to wait before it reconnects.
func (s *Writer) Retry(d time.Duration) error {
	s.buf.Reset()
	s.buf.WriteString("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n")
	return s.send()
}

func (s *Writer) send() error {
	if s.timeout > 0 {
		_ = s.deadline(time.Now().Add(s.timeout))
	}
	_, err := s.w.Write(s.buf.Bytes())
	if s.buf.Cap() > 4<<10 { // a large event's buffer is not kept for the stream's life
		s.buf = bytes.Buffer{}
	}
	if err != nil {
		return err
	}
	return s.flush()
}

// oneLine keeps a field on its line: a newline would start another field.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// Event is one block a Reader read: an event (Data, with Type and ID when
// given), or a comment alone (Comment), such as a keep-alive.
type Event struct {
	ID, Type string
	Data     []byte
	Comment  string
	// HasData reports whether the block had a data field: an event to
	// dispatch, even with empty data.
	HasData bool
}

// ErrTooLong is wrapped by the error of a Reader meeting a line or an
// event larger than its bound.
var ErrTooLong = errors.New("sse: too long")

// tooLong is an error wrapping ErrTooLong with its own text.
type tooLong string

func (e tooLong) Error() string        { return string(e) }
func (e tooLong) Is(target error) bool { return target == ErrTooLong }

// Reader reads the blocks of an event stream.
type Reader struct {
	sc  *bufio.Scanner
	max int
}

// NewReader returns a Reader of r whose lines and events are at most max
// bytes (a longer one is an error wrapping ErrTooLong).
func NewReader(r io.Reader, max int) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(4<<10, max)), max)
	return &Reader{sc: sc, max: max}
}

// Next returns the next block: one ended by a blank line, or the last one
// of the stream even without it (some servers end with "data: [DONE]\n").
// It returns io.EOF at the end of the stream. Fields other than id, event
// and data (retry, unknown ones) are skipped; the data of several data
// lines is joined with newlines, as the format says.
func (r *Reader) Next() (Event, error) {
	var e Event
	pending := false
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if len(line) == 0 {
			if pending {
				return e, nil
			}
			continue
		}
		pending = true
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "":
			e.Comment = string(value)
		case "id":
			e.ID = string(value)
		case "event":
			e.Type = string(value)
		case "data":
			if len(e.Data)+len(value)+1 > r.max {
				return Event{}, tooLong(fmt.Sprintf("sse: event larger than %d bytes", r.max))
			}
			if e.HasData {
				e.Data = append(e.Data, '\n')
			}
			e.Data, e.HasData = append(e.Data, value...), true
		}
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Event{}, tooLong(fmt.Sprintf("sse: line longer than %d bytes", r.max))
		}
		return Event{}, err
	}
	if pending {
		return e, nil
	}
	return Event{}, io.EOF
}
