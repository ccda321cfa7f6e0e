package images

import (
	"strings"
	"testing"
)

func TestCopyStreamWritesPlainLines(t *testing.T) {
	in := `{"stream":"Step 1/2 : FROM x\n"}
{"stream":" ---\u003e abc\n"}
{"stream":"partial "}{"stream":"line\n\u001b[91mdebconf: delaying\n\u001b[0m"}
{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"layer"}
{"status":"Pull complete","id":"layer"}
{"stream":"50%\r100%\n"}
{"aux":{"ID":"sha256:123"}}
{"stream":"Successfully built 123\n"}
`
	var out strings.Builder
	res, err := copyStream(strings.NewReader(in), &out, "build: ")
	if err != nil {
		t.Fatal(err)
	}
	want := `build: Step 1/2 : FROM x
build:  ---> abc
build: partial line
build: debconf: delaying
build: layer: Pull complete
build: 100%
build: Successfully built 123
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	if string(res.aux) != `{"ID":"sha256:123"}` || res.lastStatus != "Pull complete" {
		t.Fatalf("result %+v", res)
	}
}

func TestCopyStreamReturnsTheEngineError(t *testing.T) {
	in := `{"stream":"Step 4/9 : RUN false\n"}
{"errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}
`
	var out strings.Builder
	_, err := copyStream(strings.NewReader(in), &out, "")
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code: 1") {
		t.Fatalf("error %v", err)
	}
	// An engine that sends only the "error" text.
	_, err = copyStream(strings.NewReader(`{"error":"no space left"}`), &out, "")
	if err == nil || err.Error() != "no space left" {
		t.Fatalf("error %v", err)
	}
	// A torn stream is an error, not a success.
	_, err = copyStream(strings.NewReader(`{"stream":"x`), &out, "")
	if err == nil {
		t.Fatal("torn stream read as a success")
	}
}

func TestDebootstrapLogSummarizesPackages(t *testing.T) {
	in := `I: Retrieving InRelease 
I: Valid Release signature (key id 4D64)
I: Retrieving Packages 
I: Validating Packages 
I: Retrieving adduser 3.134
I: Validating adduser 3.134
I: Retrieving apt 2.6.1
I: Validating apt 2.6.1
I: Chosen extractor for .deb packages: dpkg-deb
I: Extracting adduser...
I: Extracting apt...
I: Extracting bash...
I: Installing core packages...
I: Unpacking apt...
I: Configuring apt...
I: Configuring bash...
I: Base system installed successfully.`
	var out strings.Builder
	d := &debootstrapLog{out: &out, prefix: "d: "}
	// Write in odd pieces, as a pipe would.
	for i := 0; i < len(in); i += 7 {
		j := min(i+7, len(in))
		if _, err := d.Write([]byte(in[i:j])); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	want := `d: I: Retrieving InRelease
d: I: Valid Release signature (key id 4D64)
d: I: Retrieving Packages
d: I: Validating Packages
d: I: Retrieving 2 packages
d: I: Chosen extractor for .deb packages: dpkg-deb
d: I: Extracting 3 packages
d: I: Installing core packages...
d: I: Unpacking 1 packages
d: I: Configuring 2 packages
d: I: Base system installed successfully.
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}
