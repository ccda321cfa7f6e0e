package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// Dockerfile is the generic node image's recipe (node.Dockerfile,
// embedded), for targets that bring none of their own. BASE is the base
// image (EnsureBase passes the local one) and INPUTS the hash of the inputs.
// The packages are one layer and the faultline binary a last layer of its
// own, so a new binary reuses the package layer from the engine's build
// cache; the labels are one metadata step after it.
//
//go:embed node.Dockerfile
var Dockerfile string

// NodeTag returns the tag of the node image made from these inputs:
// faultline-node:<first 12 hex digits of InputsHash>.
func NodeTag(inputs string) string { return NodeRepo + ":" + inputs[:12] }

// InputsHash returns the hex SHA-256 that names a node image: it covers the
// Dockerfile text, the base image's ID and the binary's bytes.
func InputsHash(dockerfile, baseID string, binary []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(dockerfile), []byte(baseID), binary} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EnsureNode returns the tag of the node image for the static faultline
// binary at path binary, building it when the engine lacks it. The image is
// Dockerfile on EnsureBase's base with the binary at
// /usr/local/bin/faultline; it is tagged NodeTag(InputsHash(...)) and
// labelled faultline=1, faultline.role=node and faultline.inputs=<hash>, so
// the same inputs are built once and a changed binary, Dockerfile or base
// gives a new tag. Older node images are left in place. A binary that is not
// static fails before anything is built. Progress lines go to out.
func EnsureNode(ctx context.Context, cli Engine, binary string, out io.Writer) (string, error) {
	return EnsureImage(ctx, cli, Dockerfile, binary, out)
}

// EnsureImage is EnsureNode for the recipe dockerfile (a target's own
// Dockerfile): the image is tagged NodeTag(InputsHash(dockerfile, ...)).
func EnsureImage(ctx context.Context, cli Engine, dockerfile, binary string, out io.Writer) (string, error) {
	if err := CheckStatic(binary); err != nil {
		return "", fmt.Errorf("node image: %w", err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("node image: %w", err)
	}
	base, err := EnsureBase(ctx, cli, out)
	if err != nil {
		return "", err
	}
	baseID, err := inspect(ctx, cli, base)
	if err != nil {
		return "", err
	}
	if baseID == "" {
		return "", fmt.Errorf("node image: base image %s vanished", base)
	}
	inputs := InputsHash(dockerfile, baseID, bin)
	tag := NodeTag(inputs)
	have := func() (bool, error) {
		id, err := inspect(ctx, cli, tag)
		if id != "" {
			fmt.Fprintf(out, "images: node %s (%s, on %s) is up to date\n", tag, shortID(id), base)
		}
		return id != "", err
	}
	if ok, err := have(); ok || err != nil {
		return tag, err
	}
	unlock, err := lock(ctx, out)
	if err != nil {
		return "", err
	}
	defer unlock()
	if ok, err := have(); ok || err != nil {
		return tag, err
	}
	fmt.Fprintf(out, "images: building node %s on %s\n", tag, base)
	start := time.Now()
	if err := buildNode(ctx, cli, dockerfile, base, tag, inputs, bin, out); err != nil {
		return "", fmt.Errorf("build node image %s: %w", tag, err)
	}
	id, err := inspect(ctx, cli, tag)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("build node image %s: the build ended but the engine has no such image", tag)
	}
	fmt.Fprintf(out, "images: built node %s (%s) in %s\n", tag, shortID(id), time.Since(start).Round(100*time.Millisecond))
	return tag, nil
}

// buildNode sends the build context (Dockerfile and binary) to the engine's
// classic builder and streams its progress to out.
func buildNode(ctx context.Context, cli Engine, dockerfile, base, tag, inputs string, bin []byte, out io.Writer) error {
	buildCtx, err := contextTar(map[string]tarFile{
		"Dockerfile": {mode: 0o644, data: []byte(dockerfile)},
		"faultline":  {mode: 0o755, data: bin},
	})
	if err != nil {
		return err
	}
	res, err := cli.ImageBuild(ctx, bytes.NewReader(buildCtx), client.ImageBuildOptions{
		Tags:        []string{tag},
		BuildArgs:   map[string]*string{"BASE": &base, "INPUTS": &inputs},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, err = copyStream(res.Body, out, "build: ")
	return err
}

// tarFile is one file of an in-memory tar archive.
type tarFile struct {
	mode int64
	data []byte
}

// contextTar returns a tar archive of files, in name order.
func contextTar(files map[string]tarFile) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		f := files[n]
		hdr := &tar.Header{Name: n, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	return buf.Bytes(), nil
}
