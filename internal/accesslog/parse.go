// Package accesslog measures what nginx answered, from its access log: how many
// requests each upstream served, how many of them were 5xx, and their p99
// latency. It reads two formats, line by line, detected per line:
//
//   - JSON, as written by `log_format ... escape=json '{...}'`: the fields
//     upstream_addr (or upstream), status and request_time, as strings or numbers.
//   - The combined format followed by key=value fields, as nginx documents for
//     timing: `... "$http_user_agent" rt=$request_time ua="$upstream_addr"`
//     (request_time= and upstream_addr= are accepted too).
//
// $upstream_addr may list several servers ("10.0.0.1:80, 10.0.0.2:80" when
// nginx retried, "... : ..." after an internal redirect): the request counts for
// the last one, the server whose answer the client got.
//
// Analysis streams: memory stays bounded whatever the size of the log (latencies
// go into a fixed-size histogram, see Latencies), and it runs at several hundred
// MB/s on one core.
package accesslog

import (
	"bytes"
	"strconv"
	"time"
)

// Entry is what one log line says about a request.
type Entry struct {
	// Upstream is the server that answered (the last of $upstream_addr), or
	// empty when nginx answered by itself. It may alias the line.
	Upstream []byte
	// Status is the HTTP status sent to the client.
	Status int
	// RequestTime is $request_time.
	RequestTime time.Duration
}

// ParseLine reads one line (without its newline); ok is false when the line
// is in neither format or lacks the status.
func ParseLine(line []byte) (e Entry, ok bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return e, false
	}
	if line[0] == '{' {
		return parseJSON(line)
	}
	return parseCombined(line)
}

// parseJSON reads a flat JSON object; only the three fields are decoded.
func parseJSON(line []byte) (e Entry, ok bool) {
	i := 1
	for i < len(line) {
		k := bytes.IndexByte(line[i:], '"')
		if k < 0 {
			break
		}
		key, next, _, good := jsonString(line, i+k)
		if !good {
			return e, false
		}
		i = skipSpace(line, next)
		if i >= len(line) || line[i] != ':' {
			return e, false
		}
		i = skipSpace(line, i+1)
		if i >= len(line) {
			return e, false
		}
		var val []byte
		escaped := false
		if line[i] == '"' {
			val, i, escaped, good = jsonString(line, i)
			if !good {
				return e, false
			}
		} else {
			j := i
			for j < len(line) && line[j] != ',' && line[j] != '}' {
				j++
			}
			val, i = bytes.TrimSpace(line[i:j]), j
		}
		switch string(key) {
		case "upstream_addr", "upstream":
			if escaped {
				val = unescapeJSON(val)
			}
			e.Upstream = lastUpstream(val)
		case "status":
			e.Status, ok = atoi(val)
		case "request_time":
			e.RequestTime = seconds(val)
		}
		// skip to the next key
		for i < len(line) && line[i] != ',' && line[i] != '}' {
			i++
		}
		i++
	}
	return e, ok
}

// jsonString reads the JSON string whose opening quote is at line[at]; it
// returns the raw content, the index after the closing quote and whether the
// content holds escapes.
func jsonString(line []byte, at int) (val []byte, next int, escaped, ok bool) {
	i := at + 1
	for {
		k := bytes.IndexByte(line[i:], '"')
		if k < 0 {
			return nil, 0, false, false
		}
		j := i + k
		bs := 0
		for b := j - 1; b > at && line[b] == '\\'; b-- {
			bs++
		}
		if bs%2 == 0 {
			raw := line[at+1 : j]
			return raw, j + 1, bytes.IndexByte(raw, '\\') >= 0, true
		}
		i = j + 1
	}
}

func unescapeJSON(raw []byte) []byte {
	s, err := strconv.Unquote(`"` + string(raw) + `"`)
	if err != nil {
		return raw
	}
	return []byte(s)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// parseCombined reads `addr - user [time] "request" status bytes "referer" "agent"`
// followed by key=value fields.
func parseCombined(line []byte) (e Entry, ok bool) {
	end := bytes.IndexByte(line, ']')
	if end < 0 {
		return e, false
	}
	i := skipSpace(line, end+1)
	if i >= len(line) || line[i] != '"' {
		return e, false
	}
	_, i, ok = quoted(line, i) // the request
	if !ok {
		return e, false
	}
	i = skipSpace(line, i)
	j := i
	for j < len(line) && line[j] != ' ' {
		j++
	}
	if e.Status, ok = atoi(line[i:j]); !ok {
		return e, false
	}
	for i = skipSpace(line, j); i < len(line); i = skipSpace(line, i) {
		var val []byte
		key := []byte(nil)
		if eq := bytes.IndexByte(line[i:], '='); eq > 0 && line[i] != '"' && bytes.IndexByte(line[i:i+eq], ' ') < 0 {
			key, i = line[i:i+eq], i+eq+1
		}
		if i < len(line) && line[i] == '"' {
			if val, i, ok = quoted(line, i); !ok {
				return e, false
			}
		} else {
			j = i
			for j < len(line) && line[j] != ' ' {
				j++
			}
			val, i = line[i:j], j
		}
		switch string(key) {
		case "ua", "upstream_addr", "upstream":
			e.Upstream = lastUpstream(val)
		case "rt", "request_time":
			e.RequestTime = seconds(val)
		}
	}
	return e, true
}

// quoted reads the double-quoted field at line[at] (backslash escapes skipped:
// nginx writes \x22 or, with escape=json, \").
func quoted(line []byte, at int) (val []byte, next int, ok bool) {
	for i := at + 1; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			return line[at+1 : i], i + 1, true
		}
	}
	return nil, 0, false
}

// lastUpstream returns the last address of an $upstream_addr list ("-": none).
func lastUpstream(v []byte) []byte {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ',' || v[i] == ' ' {
			v = v[i+1:]
			break
		}
	}
	if len(v) == 1 && v[0] == '-' {
		return nil
	}
	return v
}

// atoi parses a small non-negative decimal number.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// seconds parses "1.234" (seconds, as $request_time) to microsecond precision;
// anything else is 0.
func seconds(b []byte) time.Duration {
	var whole, frac int64
	digits := 0
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		whole = whole*10 + int64(b[i]-'0')
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if digits < 6 {
				frac = frac*10 + int64(b[i]-'0')
				digits++
			}
		}
	}
	for ; digits < 6; digits++ {
		frac *= 10
	}
	return time.Duration(whole)*time.Second + time.Duration(frac)*time.Microsecond
}
