package images

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// BaseTag returns the tag of the base image built with debootstrap from
// mirror for suite: faultline-base:<suite>-<hash of mirror and suite>.
func BaseTag(mirror, suite string) string {
	h := sha256.Sum256([]byte(mirror + "\n" + suite))
	return BaseRepo + ":" + suite + "-" + hex.EncodeToString(h[:])[:12]
}

// EnsureBase returns the reference of the base image node images are built
// on, making it if need be:
//
//  1. BaseImage, when the engine has it;
//  2. else BaseTag(mirror, Suite), when the engine has it, where mirror is
//     the Debian mirror of the machine's apt sources (see DebianMirror);
//  3. else BaseImage pulled from its registry (the attempt is given a minute);
//  4. else BaseTag(mirror, Suite) built: debootstrap --variant=minbase into a
//     temporary folder, then an import of that folder through the engine
//     API, labelled faultline=1 and faultline.role=base.
//
// Building needs root and debootstrap; without debootstrap the error wraps
// ErrMissingTool. Progress lines go to out (none when the image exists).
// Concurrent callers on one machine make it once: making it holds a lock
// file.
func EnsureBase(ctx context.Context, cli Engine, out io.Writer) (string, error) {
	have := func(ref string) (bool, error) {
		id, err := inspect(ctx, cli, ref)
		return id != "", err
	}
	if ok, err := have(BaseImage); ok || err != nil {
		return BaseImage, err
	}
	mirror, mirrorErr := DebianMirror(Suite)
	tag := ""
	if mirrorErr == nil {
		tag = BaseTag(mirror, Suite)
		if ok, err := have(tag); ok || err != nil {
			return tag, err
		}
	}
	unlock, err := lock(ctx, out)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have made one while this one waited for the lock.
	if ok, err := have(BaseImage); ok || err != nil {
		return BaseImage, err
	}
	if tag != "" {
		if ok, err := have(tag); ok || err != nil {
			return tag, err
		}
	}
	err = pullBase(ctx, cli, out)
	if err == nil {
		return BaseImage, nil
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("pull %s: %w", BaseImage, err)
	}
	fmt.Fprintf(out, "images: cannot pull %s: %s\n", BaseImage, oneLine(err.Error()))
	if mirrorErr != nil {
		return "", fmt.Errorf("base image: %s cannot be pulled and cannot be built: %w", BaseImage, mirrorErr)
	}
	if err := buildBase(ctx, cli, mirror, tag, out); err != nil {
		return "", fmt.Errorf("build base image %s: %w", tag, err)
	}
	return tag, nil
}

// pullBase pulls BaseImage from its registry, giving up after a minute.
func pullBase(ctx context.Context, cli Engine, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := cli.ImagePull(ctx, BaseImage, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer res.Close()
	if _, err := copyStream(res, out, "pull: "); err != nil {
		return err
	}
	id, err := inspect(ctx, cli, BaseImage)
	if err == nil && id == "" {
		err = fmt.Errorf("the pull ended but the engine has no %s", BaseImage)
	}
	return err
}

// oneLine joins the lines of s.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// buildBase runs debootstrap and imports its result as tag.
func buildBase(ctx context.Context, cli Engine, mirror, tag string, out io.Writer) error {
	tool, err := findDebootstrap()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("debootstrap needs root: run as root, or load " + BaseImage + " into the engine")
	}
	dir, err := os.MkdirTemp("", "faultline-base-")
	if err != nil {
		return fmt.Errorf("temporary folder: %w", err)
	}
	defer removeTree(dir, out)
	rootfs := filepath.Join(dir, "rootfs")

	fmt.Fprintf(out, "images: building base %s with debootstrap from %s (%s)\n", tag, mirror, Suite)
	start := time.Now()
	if err := debootstrap(ctx, tool, rootfs, mirror, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "images: debootstrap done in %s\n", time.Since(start).Round(100*time.Millisecond))
	if err := slim(rootfs); err != nil {
		return fmt.Errorf("trim root file system: %w", err)
	}

	start = time.Now()
	status, err := importTree(ctx, cli, rootfs, tag, mirror)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	id, err := inspect(ctx, cli, tag)
	if err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("import: the engine reported %q but has no image %s", status, tag)
	}
	fmt.Fprintf(out, "images: imported %s (%s) in %s\n", tag, shortID(id), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// importTree streams the tree at rootfs to the engine as a tar archive and
// imports it as tag, labelled as a faultline base image. It returns the
// engine's last status text.
func importTree(ctx context.Context, cli Engine, rootfs, tag, mirror string) (string, error) {
	pr, pw := io.Pipe()
	tarDone := make(chan error, 1)
	go func() {
		err := writeTar(pw, rootfs)
		pw.CloseWithError(err)
		tarDone <- err
	}()
	status, err := func() (string, error) {
		res, err := cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, tag,
			client.ImageImportOptions{
				Message: "debootstrap --variant=minbase " + Suite + " from " + mirror,
				Changes: []string{
					fmt.Sprintf("LABEL %s=1 %s=base", Label, LabelRole),
					`CMD ["bash"]`,
				},
			})
		if err != nil {
			return "", err
		}
		defer res.Close()
		sr, err := copyStream(res, io.Discard, "")
		return sr.lastStatus, err
	}()
	pr.CloseWithError(errors.New("import ended")) // unblocks the writer if the import ended early
	if terr := <-tarDone; err == nil && terr != nil {
		err = terr
	}
	return status, err
}

// findDebootstrap returns the path of debootstrap, which lives in sbin
// folders that a user's PATH may lack.
func findDebootstrap() (string, error) {
	if p, err := exec.LookPath("debootstrap"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/debootstrap", "/sbin/debootstrap"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: the engine has no %s and cannot pull it, so the base image is built from "+
		"Debian's packages with debootstrap, which is not installed: install it (apt-get install debootstrap)",
		ErrMissingTool, BaseImage)
}

// debootstrap runs debootstrap into rootfs, its progress summarized to out.
// A cancelled ctx kills its whole process group.
func debootstrap(ctx context.Context, tool, rootfs, mirror string, out io.Writer) error {
	cmd := exec.CommandContext(ctx, tool, "--variant=minbase", Suite, rootfs, mirror)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	log := &debootstrapLog{out: out, prefix: "debootstrap: "}
	cmd.Stdout, cmd.Stderr = log, log
	err := cmd.Run()
	log.Close()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("debootstrap: %w", ctx.Err())
	}
	// debootstrap's own log says what went wrong; show its end.
	if b, rerr := os.ReadFile(filepath.Join(rootfs, "debootstrap", "debootstrap.log")); rerr == nil {
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		for _, l := range lines {
			fmt.Fprintf(out, "debootstrap.log: %s\n", l)
		}
	}
	return fmt.Errorf("debootstrap --variant=minbase %s %s: %w (its output is above)", Suite, mirror, err)
}

// slimConfig keeps documentation and translations out of packages installed
// later, as Debian's slim images do.
const slimConfig = `path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
`

// policyRC tells maintainer scripts not to start services while images are
// built: a container starts what it runs itself.
const policyRC = "#!/bin/sh\nexit 101\n"

// slim removes from a fresh debootstrap tree what an image does not need:
// downloaded packages, package lists, documentation, translations, and the
// host's hostname and resolver configuration (the engine provides both). It
// adds the slim dpkg configuration and a policy-rc.d.
func slim(rootfs string) error {
	globs := []string{
		"var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*",
		"usr/share/doc/*/*", "usr/share/locale/*", "usr/share/man/*", "usr/share/info/*",
	}
	for _, g := range globs {
		ms, err := filepath.Glob(filepath.Join(rootfs, g))
		if err != nil {
			return err
		}
		for _, m := range ms {
			if filepath.Base(m) == "copyright" {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	for _, f := range []string{"etc/hostname", "etc/resolv.conf"} {
		if err := os.WriteFile(filepath.Join(rootfs, f), nil, 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(rootfs, "etc/dpkg/dpkg.cfg.d"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "etc/dpkg/dpkg.cfg.d/faultline-slim"), []byte(slimConfig), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(rootfs, "usr/sbin/policy-rc.d"), []byte(policyRC), 0o755)
}

// writeTar writes the tree at root to w as a tar stream with paths relative
// to root, keeping owners, modes, symbolic and hard links and device nodes.
// The contents of dev, proc and sys are left out: the engine provides them.
func writeTar(w io.Writer, root string) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	tw := tar.NewWriter(bw)
	type inode struct{ dev, ino uint64 }
	seen := map[inode]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if top, _, nested := strings.Cut(rel, "/"); nested && (top == "dev" || top == "proc" || top == "sys") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		hdr.Name = rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := seen[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				seen[key] = rel
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, f); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tar %s: %w", root, err)
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// removeTree removes dir after lazily unmounting anything mounted below it
// (an interrupted debootstrap can leave proc or sys mounted in its chroot).
// If a mount stays, dir is left in place and out says so.
func removeTree(dir string, out io.Writer) {
	mounts, err := mountsUnder(dir)
	if err == nil {
		for _, m := range mounts {
			_ = detachMount(m)
		}
		mounts, err = mountsUnder(dir)
	}
	if err != nil || len(mounts) > 0 {
		fmt.Fprintf(out, "images: left %s in place: file systems may still be mounted inside it\n", dir)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(out, "images: remove %s: %v\n", dir, err)
	}
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	if runtime.GOOS != "linux" {
		return nil, nil // debootstrap mounts nothing elsewhere
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			ok := true
			for _, d := range s[i+1 : i+4] {
				if d < '0' || d > '7' {
					ok = false
					break
				}
				c = c*8 + byte(d-'0')
			}
			if ok {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
