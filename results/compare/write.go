package compare

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/faultline/faultline/results/runfolder"
)

// Write writes c into a new folder of its own under the results root,
// <root>/compare/<UTC time of now>/ (named as run folders are, with -2,
// -3, … appended when the name is taken): compare.html (RenderHTML) and
// compare.json (c, indented). Both are written atomically. It returns
// the page's path.
func Write(root string, c *Comparison, now time.Time) (string, error) {
	parent := filepath.Join(root, Folder)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create comparison folder: %w", err)
	}
	base := now.UTC().Format(runfolder.TimestampFormat)
	var dir string
	for n := 1; dir == ""; n++ {
		if n > 1000 {
			return "", fmt.Errorf("create comparison folder: too many named %s in %s", base, parent)
		}
		name := base
		if n > 1 {
			name += "-" + strconv.Itoa(n)
		}
		err := os.Mkdir(filepath.Join(parent, name), 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create comparison folder: %w", err)
		}
		dir = filepath.Join(parent, name)
	}
	out := &runfolder.Run{Dir: dir}
	if err := out.WriteJSON(JSONFile, c); err != nil {
		return "", err
	}
	page := filepath.Join(dir, PageFile)
	return page, writePage(page, c)
}

// WriteHTML writes the page of c (RenderHTML) to path, atomically, its
// links relative to path's folder; missing folders are created.
func WriteHTML(path string, c *Comparison) error {
	return writePage(path, c)
}

func writePage(path string, c *Comparison) error {
	var buf bytes.Buffer
	dir := filepath.Dir(path)
	if err := RenderHTML(&buf, c, dir); err != nil {
		return err
	}
	return (&runfolder.Run{Dir: dir}).WriteFile(filepath.Base(path), buf.Bytes())
}
