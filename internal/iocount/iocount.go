// Package iocount counts the bytes that pass through a reader or a writer:
// the size of a stream that is read or written once, without buffering it.
package iocount

import "io"

// Reader reads from R and counts in N the bytes read.
type Reader struct {
	R io.Reader
	N int64
}

func (c *Reader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// Writer writes to W and counts in N the bytes written.
type Writer struct {
	W io.Writer
	N int64
}

func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}
