package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"
)

// message is one object of the engine's JSON message stream. Older engines
// put the error text in "error" as well as in "errorDetail".
type message struct {
	jsonstream.Message
	ErrorText string `json:"error,omitempty"`
}

// streamResult is what a JSON message stream said besides its progress.
type streamResult struct {
	lastStatus string          // last "status" text (an import reports the image ID here)
	aux        json.RawMessage // last "aux" object (a build reports the image ID here)
}

// copyStream reads the engine's JSON message stream r and writes each
// message's text to out as plain lines, each with prefix. Progress bars are
// dropped. An error message in the stream is returned as an error.
func copyStream(r io.Reader, out io.Writer, prefix string) (streamResult, error) {
	var res streamResult
	dec := json.NewDecoder(r)
	var partial string // "stream" text not yet ended by a newline
	emit := func(s string) {
		s = ansi.ReplaceAllString(s, "")
		if s = strings.TrimRight(s, " \r\t"); strings.TrimSpace(s) != "" {
			fmt.Fprintf(out, "%s%s\n", prefix, s)
		}
	}
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			emit(partial)
			if errors.Is(err, io.EOF) {
				return res, nil
			}
			return res, fmt.Errorf("read engine progress: %w", err)
		}
		if m.Error != nil || m.ErrorText != "" {
			emit(partial)
			msg := m.ErrorText
			if m.Error != nil && m.Error.Message != "" {
				msg = m.Error.Message
			}
			return res, errors.New(strings.TrimSpace(msg))
		}
		if m.Aux != nil {
			res.aux = *m.Aux
		}
		if m.Stream != "" {
			lines := strings.Split(partial+m.Stream, "\n")
			partial = lines[len(lines)-1]
			for _, l := range lines[:len(lines)-1] {
				// A carriage return rewrites the line: keep its final state.
				if i := strings.LastIndex(strings.TrimRight(l, "\r"), "\r"); i >= 0 {
					l = l[i+1:]
				}
				emit(l)
			}
		}
		if m.Status != "" {
			res.lastStatus = m.Status
			if m.Progress == nil || m.Progress.Total == 0 {
				if m.ID != "" {
					emit(m.ID + ": " + m.Status)
				} else {
					emit(m.Status)
				}
			}
		}
	}
}

// ansi matches the colour codes the classic builder puts around a step's
// standard error.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// perPackage matches debootstrap's lines about one package.
var perPackage = regexp.MustCompile(`^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) [^ ]+( [^ ]+)?$`)

// debootstrapLog is an io.Writer that turns debootstrap's output into
// progress lines: its summary lines pass through, and each run of per-package
// lines ("Retrieving x", "Unpacking y...") becomes one line with a count.
// Close writes what is pending.
type debootstrapLog struct {
	out    io.Writer
	prefix string
	buf    bytes.Buffer
	phase  string
	count  int
}

func (d *debootstrapLog) Write(p []byte) (int, error) {
	d.buf.Write(p)
	for {
		i := bytes.IndexByte(d.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimRight(string(d.buf.Next(i+1)), "\r\n ")
		d.line(line)
	}
}

func (d *debootstrapLog) line(l string) {
	if l == "" {
		return
	}
	if m := perPackage.FindStringSubmatch(strings.TrimSuffix(l, "...")); m != nil &&
		!strings.HasPrefix(l, "I: Retrieving InRelease") && !strings.HasPrefix(l, "I: Retrieving Packages") &&
		!strings.HasPrefix(l, "I: Validating Packages") {
		phase := m[1]
		if phase == "Validating" {
			// Retrieving and Validating alternate package by package.
			phase = "Retrieving"
		}
		if phase != d.phase {
			d.flush()
			d.phase = phase
		}
		if m[1] != "Validating" {
			d.count++
		}
		return
	}
	d.flush()
	fmt.Fprintf(d.out, "%s%s\n", d.prefix, l)
}

// flush writes the count of the current run of per-package lines.
func (d *debootstrapLog) flush() {
	if d.count > 0 {
		fmt.Fprintf(d.out, "%sI: %s %d packages\n", d.prefix, d.phase, d.count)
	}
	d.phase, d.count = "", 0
}

// Close writes any pending partial line and count.
func (d *debootstrapLog) Close() error {
	if d.buf.Len() > 0 {
		d.line(strings.TrimRight(d.buf.String(), "\r\n "))
		d.buf.Reset()
	}
	d.flush()
	return nil
}
