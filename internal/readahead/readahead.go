// Package readahead runs a reader in its own goroutine, a few chunks ahead of its
// consumer, so that two stages of a stream (reading and hashing an artifact,
// decompressing it, writing the files) run on different cores at the same time, as
// a shell pipeline does. Memory stays bounded: chunks+1 buffers of size bytes.
package readahead

import "io"

// Reader reads its source in a goroutine. Close it to stop the goroutine.
type Reader struct {
	chunks chan chunk
	free   chan []byte
	stop   chan struct{}
	done   chan struct{}
	cur    chunk
	off    int
	closed bool
}

type chunk struct {
	buf []byte // owned by the consumer until returned to free
	n   int
	err error // after buf[:n]
}

// New starts reading r in a goroutine, at most chunks buffers of size bytes ahead.
// r's error (io.EOF at the end) is returned by Read once the data before it is read.
func New(r io.Reader, chunks, size int) *Reader {
	ra := &Reader{
		chunks: make(chan chunk, chunks),
		free:   make(chan []byte, chunks+1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := 0; i < chunks+1; i++ {
		ra.free <- make([]byte, size)
	}
	go ra.fill(r)
	return ra
}

func (ra *Reader) fill(r io.Reader) {
	defer close(ra.done)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var k int
			k, err = r.Read(buf[n:])
			n += k
		}
		select {
		case ra.chunks <- chunk{buf: buf, n: n, err: err}:
		case <-ra.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader. It must not be called after Close.
func (ra *Reader) Read(p []byte) (int, error) {
	if ra.closed {
		return 0, io.ErrClosedPipe
	}
	for ra.off >= ra.cur.n {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.buf != nil {
			ra.free <- ra.cur.buf
		}
		ra.cur, ra.off = <-ra.chunks, 0
	}
	n := copy(p, ra.cur.buf[ra.off:ra.cur.n])
	ra.off += n
	return n, nil
}

// Close stops the reading goroutine and waits for it, so the source is no longer
// used once Close returns. It always returns nil.
func (ra *Reader) Close() error {
	if !ra.closed {
		ra.closed = true
		close(ra.stop)
		<-ra.done
	}
	return nil
}
