package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/faultline/faultline/core"
)

// MaxLineBytes is the longest history line, newline excluded, that the
// writer writes and the reader accepts: 1 MiB.
const MaxLineBytes = 1 << 20

// line is one history line as encoding/json writes it: the fields in the
// format's order, key, node and error left out when empty, value always
// present.
type line struct {
	Index   int       `json:"index"`
	Time    int64     `json:"time"`
	Process int       `json:"process"`
	Type    core.Type `json:"type"`
	F       string    `json:"f"`
	Key     string    `json:"key,omitempty"`
	Value   any       `json:"value"`
	Node    string    `json:"node,omitempty"`
	Error   string    `json:"error,omitempty"`
}

// lineEncoder is an encoder with its buffer, reused through encoders.
type lineEncoder struct {
	buf  bytes.Buffer
	enc  *json.Encoder
	line line
}

var encoders = sync.Pool{New: func() any {
	le := &lineEncoder{}
	le.enc = json.NewEncoder(&le.buf)
	le.enc.SetEscapeHTML(false)
	return le
}}

// appendEvent appends e to b as one history line, newline included,
// encoded by encoding/json without HTML escaping. It fails when the value
// cannot be encoded (a NaN, a channel, a cycle) or when the line would be
// longer than MaxLineBytes.
func appendEvent(b []byte, e core.Event) ([]byte, error) {
	le := encoders.Get().(*lineEncoder)
	defer func() {
		if le.buf.Cap() <= 64<<10 {
			encoders.Put(le)
		}
	}()
	le.buf.Reset()
	le.line = line{Index: e.Index, Time: e.Time, Process: e.Process, Type: e.Type, F: e.F, Key: e.Key, Value: e.Value, Node: e.Node, Error: e.Error}
	err := le.enc.Encode(&le.line)
	le.line.Value = nil // let the value go
	if err != nil {
		return b, fmt.Errorf("encode value of type %T: %w", e.Value, err)
	}
	if n := le.buf.Len() - 1; n > MaxLineBytes {
		return b, fmt.Errorf("line of %d bytes is over the %d-byte limit", n, MaxLineBytes)
	}
	return append(b, le.buf.Bytes()...), nil
}
