// Package history is the codec of history.jsonl: a Writer that streams
// events to the file in index order as they happen, and readers (Read,
// ReadFile, Scan) that validate a file line by line and say where it is
// wrong.
//
// The format is one JSON object a line, with the fields index, time,
// process, type, f, key, value, node and error in that order; key, node
// and error are left out when empty and value is always present (null when
// the operation has none). The repository's README documents it in full.
package history
