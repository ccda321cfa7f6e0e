// Package results owns the run folder: the history file (history.jsonl) and
// its writer and reader, results.json, and the HTML report rendered from the
// folder's files alone.
//
// The history format is the one of docs/formats.md: one JSON object a line, with
// the fields index, time, process, type, f, key, value, node and error in
// that order; key, node and error are left out when empty and value is
// always present (null when the operation has none).
package results
