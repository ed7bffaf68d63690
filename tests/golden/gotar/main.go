// Generates reference tar bytes with Go's own archive/tar, configured exactly as the
// Go kit CLI configures headers: uid 1000, gid 0, empty uname/gname,
// mtime = Unix epoch, no atime/ctime, no trailing slash on directories.
// Usage: go run main.go OUT.tar then entries as "d:NAME:MODE" or "f:NAME:MODE:CONTENT".
// A "h:NAME:MODE:SIZE" entry writes only the header (for >8 GiB cases).
package main

import (
	"archive/tar"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	out, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	headerOnly := false
	for _, spec := range os.Args[2:] {
		parts := strings.SplitN(spec, ":", 4)
		mode, _ := strconv.ParseInt(parts[2], 8, 64)
		hdr := &tar.Header{Name: parts[1], Mode: mode, Uid: 1000, Gid: 0, ModTime: time.Unix(0, 0)}
		switch parts[0] {
		case "d":
			hdr.Typeflag = tar.TypeDir
			if err := tw.WriteHeader(hdr); err != nil {
				panic(err)
			}
		case "f":
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(parts[3]))
			if err := tw.WriteHeader(hdr); err != nil {
				panic(err)
			}
			if _, err := tw.Write([]byte(parts[3])); err != nil {
				panic(err)
			}
		case "h":
			hdr.Typeflag = tar.TypeReg
			hdr.Size, _ = strconv.ParseInt(parts[3], 10, 64)
			if err := tw.WriteHeader(hdr); err != nil {
				panic(err)
			}
			headerOnly = true
		}
	}
	if !headerOnly {
		if err := tw.Close(); err != nil {
			panic(err)
		}
	} else {
		tw.Flush()
	}
}
