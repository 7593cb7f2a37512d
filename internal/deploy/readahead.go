package deploy

import "io"

// readAhead reads its source in a goroutine, a few chunks ahead of its consumer,
// so that reading and hashing the artifact overlap with decompressing and writing
// the release (the shell baseline gets the same overlap from its pipes).
type readAhead struct {
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

func newReadAhead(r io.Reader, chunks, size int) *readAhead {
	ra := &readAhead{
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

func (ra *readAhead) fill(r io.Reader) {
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

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off >= ra.cur.n {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.buf != nil {
			ra.free <- ra.cur.buf
		}
		c, ok := <-ra.chunks
		if !ok {
			return 0, io.ErrClosedPipe
		}
		ra.cur, ra.off = c, 0
	}
	n := copy(p, ra.cur.buf[ra.off:ra.cur.n])
	ra.off += n
	return n, nil
}

// Close stops the reading goroutine and waits for it, so the source (and its
// hash) is no longer used once Close returns.
func (ra *readAhead) Close() error {
	if !ra.closed {
		ra.closed = true
		close(ra.stop)
		<-ra.done
	}
	return nil
}
