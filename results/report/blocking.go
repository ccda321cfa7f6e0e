package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/faultline/faultline/workloads/transfer"
)

// tableView is a small table of a checker's figures drawn under its
// summary.
type tableView struct {
	Caption string
	Head    []string
	Rows    [][]string
}

// blockingTable turns the blocking checker's details (as results.json
// holds them) into a table: one row per fault window and one for the
// time outside them. It returns nil when the details are not blocking
// figures.
func blockingTable(details any) *tableView {
	b, err := json.Marshal(details)
	if err != nil {
		return nil
	}
	var d transfer.BlockingDetails
	if json.Unmarshal(b, &d) != nil || len(d.Windows) == 0 {
		return nil
	}
	t := &tableView{
		Caption: fmt.Sprintf("Blocking per fault window: transactions held in doubt by a participant (by when they began) and client operations stuck %v or more or refused on accounts held in doubt", transfer.StuckAfter),
		Head:    []string{"fault", "window", "in doubt", "longest in doubt", "median in doubt", "ops stuck", "ops refused", "longest op"},
	}
	for _, w := range d.Windows {
		span := "outside every window"
		if w.Fault != "none" {
			span = fmt.Sprintf("%s – %s", secs(w.Start), secs(w.End))
		}
		t.Rows = append(t.Rows, []string{w.Fault, span, strconv.Itoa(w.InDoubt), ms(w.LongestInDoubtMs), ms(w.MedianInDoubtMs),
			strconv.Itoa(w.Stuck), strconv.Itoa(w.Refused), ms(w.LongestOpMs)})
	}
	t.Rows = append(t.Rows, []string{"all", "", strconv.Itoa(d.InDoubt), ms(d.LongestInDoubtMs), "p99 " + ms(d.P99InDoubtMs),
		strconv.Itoa(d.Stuck), strconv.Itoa(d.Refused), ms(d.LongestOpMs)})
	return t
}

func secs(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 1, 64) + " s"
}

func ms(v float64) string {
	return time.Duration(v * 1e6).Round(time.Millisecond).String()
}
