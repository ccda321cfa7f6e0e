package faultline_test

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline"
)

// A Go test can run faultline through the library: start from the
// defaults, change what matters, and assert on the verdict. (The test
// binary's TestMain must call faultline.NodeMain first.)
func ExampleRun() {
	t := faultline.DefaultTest()
	t.Variant = "safe"
	t.Nemesis = []string{"partition", "kill"}
	t.TimeLimit = 5 * time.Second
	t.Results = "testdata-out"
	res, err := faultline.Run(context.Background(), t)
	if err != nil {
		fmt.Println("run failed:", err)
		return
	}
	fmt.Println(res.Verdict)
}
