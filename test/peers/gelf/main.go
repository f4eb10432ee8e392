// gelf-peer: a GELF 1.1 test receiver for lkrg-siem's integration tests.
//
// Two kinds of receivers write every accepted message as one JSON line to -out and every
// refused message (with the reason) to -rejected:
//
//   - -udp ADDR: Graylog's own Go library, github.com/Graylog2/go-gelf, gelf.NewReader. It
//     reassembles chunks of at most 1420 bytes (its ChunkSize), at most 128 per message, and
//     decompresses gzip, zlib or plain JSON. The reassembled message is written as go-gelf
//     decoded it (Message + Extra).
//   - -udp-rules, -tcp, -http ADDR: a receiver written for these tests that follows the rules
//     of Graylog's server (GelfChunkAggregator and GelfCodec): at most 128 chunks per message,
//     chunks of one message must arrive within 5 s, duplicate chunks ignored, reassembly before
//     decompression, 8 MiB decompressed-size limit, TCP messages delimited by NUL, HTTP
//     POST /gelf answered with 202 Accepted; a message needs version "1.1", a non-blank string
//     host and a non-blank string short_message; additional field names must match
//     ^[\w.\-]*$ and `_id` is refused.
//
// Each flag may be repeated (IPv4 and IPv6 listeners). GET /stats on the HTTP listener answers
// {"accepted":N,"rejected":M}.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	gogelf "github.com/Graylog2/go-gelf/gelf"
)

const (
	maxChunks         = 128
	chunkValidity     = 5 * time.Second
	decompressLimit   = 8 << 20
	chunkHeaderLength = 12
)

var (
	fieldName = regexp.MustCompile(`^[\w.\-]*$`)
	outMu     sync.Mutex
	outFile   *os.File
	rejFile   *os.File
	accepted  int
	rejected  int
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// record is one line of the -out file.
type record struct {
	Receiver    string          `json:"receiver"`
	Remote      string          `json:"remote,omitempty"`
	Compression string          `json:"compression,omitempty"`
	Chunks      int             `json:"chunks,omitempty"`
	Message     json.RawMessage `json:"message"`
}

type rejection struct {
	Receiver string `json:"receiver"`
	Remote   string `json:"remote,omitempty"`
	Reason   string `json:"reason"`
	Sample   string `json:"sample,omitempty"`
}

func writeLine(f *os.File, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Printf("marshal: %v", err)
		return
	}
	outMu.Lock()
	defer outMu.Unlock()
	if _, err := f.Write(append(b, '\n')); err != nil {
		log.Printf("write: %v", err)
	}
}

func accept(r record) {
	writeLine(outFile, r)
	outMu.Lock()
	accepted++
	outMu.Unlock()
}

func reject(receiver, remote, reason string, sample []byte) {
	if len(sample) > 200 {
		sample = sample[:200]
	}
	log.Printf("%s: rejected message from %s: %s", receiver, remote, reason)
	writeLine(rejFile, rejection{Receiver: receiver, Remote: remote, Reason: reason, Sample: string(sample)})
	outMu.Lock()
	rejected++
	outMu.Unlock()
}

// validate applies GelfCodec's rules to a decoded JSON object.
func validate(m map[string]any) error {
	if v, ok := m["version"]; !ok || v != "1.1" {
		return fmt.Errorf("version must be \"1.1\", got %v", v)
	}
	h, ok := m["host"]
	if !ok {
		return errors.New("host missing")
	}
	if hs, isStr := h.(string); !isStr || strings.TrimSpace(hs) == "" {
		return errors.New("host must be a non-blank string")
	}
	sm, ok := m["short_message"]
	if !ok {
		return errors.New("short_message missing")
	}
	if s, isStr := sm.(string); !isStr || strings.TrimSpace(s) == "" {
		return errors.New("short_message must be a non-blank string")
	}
	if ts, ok := m["timestamp"]; ok {
		if _, isNum := ts.(float64); !isNum {
			return fmt.Errorf("timestamp must be a number, got %T", ts)
		}
	}
	if lv, ok := m["level"]; ok {
		f, isNum := lv.(float64)
		if !isNum || f != float64(int(f)) || f < 0 || f > 7 {
			return fmt.Errorf("level must be a syslog severity 0-7, got %v", lv)
		}
	}
	for k := range m {
		switch k {
		case "version", "host", "short_message", "full_message", "timestamp", "level":
			continue
		}
		if !strings.HasPrefix(k, "_") {
			return fmt.Errorf("field %q is neither a GELF field nor an additional field", k)
		}
		if k == "_id" {
			return errors.New("additional field _id is forbidden")
		}
		if !fieldName.MatchString(k) {
			return fmt.Errorf("additional field name %q does not match ^[\\w.\\-]*$", k)
		}
	}
	return nil
}

// decode decompresses (gzip/zlib auto-detected like Graylog) and parses one message.
func decode(payload []byte) (map[string]any, string, error) {
	var rd io.Reader = bytes.NewReader(payload)
	compression := "none"
	var err error
	switch {
	case len(payload) >= 2 && payload[0] == 0x1f && payload[1] == 0x8b:
		compression = "gzip"
		rd, err = gzip.NewReader(rd)
	case len(payload) >= 2 && payload[0] == 0x78 && (int(payload[0])*256+int(payload[1]))%31 == 0:
		compression = "zlib"
		rd, err = zlib.NewReader(rd)
	}
	if err != nil {
		return nil, compression, fmt.Errorf("%s: %v", compression, err)
	}
	data, err := io.ReadAll(io.LimitReader(rd, decompressLimit+1))
	if err != nil {
		return nil, compression, fmt.Errorf("%s: %v", compression, err)
	}
	if len(data) > decompressLimit {
		return nil, compression, fmt.Errorf("decompressed size exceeds %d bytes", decompressLimit)
	}
	return parse(data, compression)
}

func parse(data []byte, compression string) (map[string]any, string, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, compression, errors.New("raw NUL byte inside the message")
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, compression, fmt.Errorf("json: %v", err)
	}
	if err := validate(m); err != nil {
		return nil, compression, err
	}
	return m, compression, nil
}

func handle(receiver, remote string, payload []byte, chunks int) {
	m, compression, err := decode(payload)
	if err != nil {
		reject(receiver, remote, err.Error(), payload)
		return
	}
	raw, _ := json.Marshal(m)
	accept(record{Receiver: receiver, Remote: remote, Compression: compression, Chunks: chunks, Message: raw})
}

// ---- go-gelf UDP reader -------------------------------------------------------------------

func runGoGelf(addr string) {
	r, err := gogelf.NewReader(addr)
	if err != nil {
		log.Fatalf("go-gelf NewReader(%s): %v", addr, err)
	}
	log.Printf("go-gelf reader listening on udp %s", r.Addr())
	for {
		m, err := r.ReadMessage()
		if err != nil {
			reject("go-gelf", "", err.Error(), nil)
			continue
		}
		var buf bytes.Buffer
		if err := m.MarshalJSONBuf(&buf); err != nil {
			reject("go-gelf", "", err.Error(), nil)
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
			reject("go-gelf", "", err.Error(), buf.Bytes())
			continue
		}
		if err := validate(obj); err != nil {
			reject("go-gelf", "", err.Error(), buf.Bytes())
			continue
		}
		accept(record{Receiver: "go-gelf", Message: buf.Bytes()})
	}
}

// ---- UDP receiver with GelfChunkAggregator's rules ----------------------------------------

type pending struct {
	first  time.Time
	count  int
	parts  [][]byte
	got    int
	remote string
}

func runUDPRules(addr string) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		log.Fatalf("listen udp %s: %v", addr, err)
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(8 << 20)
	}
	log.Printf("graylog-rules UDP receiver listening on %s", conn.LocalAddr())
	msgs := map[string]*pending{}
	buf := make([]byte, 65536)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			log.Printf("udp read: %v", err)
			continue
		}
		now := time.Now()
		for id, p := range msgs {
			if now.Sub(p.first) > chunkValidity {
				reject("udp-rules", p.remote, fmt.Sprintf("incomplete chunked message: %d of %d chunks within %v", p.got, p.count, chunkValidity), nil)
				delete(msgs, id)
			}
		}
		d := append([]byte(nil), buf[:n]...)
		remote := from.String()
		if n < 2 || d[0] != 0x1e || d[1] != 0x0f {
			handle("udp-rules", remote, d, 0)
			continue
		}
		if n < chunkHeaderLength {
			reject("udp-rules", remote, "chunk shorter than its header", d)
			continue
		}
		id := string(d[2:10])
		seq, count := int(d[10]), int(d[11])
		if count == 0 || count > maxChunks {
			reject("udp-rules", remote, fmt.Sprintf("sequence count %d outside 1..%d", count, maxChunks), nil)
			continue
		}
		if seq >= count {
			reject("udp-rules", remote, fmt.Sprintf("sequence number %d >= count %d", seq, count), nil)
			continue
		}
		p := msgs[id]
		if p == nil {
			p = &pending{first: now, count: count, parts: make([][]byte, count), remote: remote}
			msgs[id] = p
		}
		if p.count != count {
			reject("udp-rules", remote, "chunks of one message disagree on the sequence count", nil)
			delete(msgs, id)
			continue
		}
		if p.parts[seq] != nil {
			continue // duplicate chunk: ignored like Graylog
		}
		p.parts[seq] = d[chunkHeaderLength:]
		p.got++
		if p.got == p.count {
			delete(msgs, id)
			handle("udp-rules", remote, bytes.Join(p.parts, nil), p.count)
		}
	}
}

// ---- TCP, NUL-delimited ------------------------------------------------------------------

func runTCP(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("listen tcp %s: %v", addr, err)
	}
	log.Printf("TCP receiver (NUL framing) listening on %s", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Printf("accept: %v", err)
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			remote := c.RemoteAddr().String()
			rd := bufio.NewReaderSize(c, 1<<16)
			for {
				frame, err := rd.ReadBytes(0)
				if len(frame) > 0 && frame[len(frame)-1] == 0 {
					frame = frame[:len(frame)-1]
					if len(frame) > decompressLimit {
						reject("tcp", remote, "frame larger than 8 MiB", nil)
					} else if len(frame) > 0 {
						m, _, perr := parse(frame, "none")
						if perr != nil {
							reject("tcp", remote, perr.Error(), frame)
						} else {
							raw, _ := json.Marshal(m)
							accept(record{Receiver: "tcp", Remote: remote, Compression: "none", Message: raw})
						}
					}
				} else if len(frame) > 0 {
					reject("tcp", remote, "connection closed inside a frame (no NUL terminator)", frame)
				}
				if err != nil {
					return
				}
			}
		}(c)
	}
}

// ---- HTTP POST /gelf ----------------------------------------------------------------------

func runHTTP(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/gelf", func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		var body io.Reader = req.Body
		switch strings.ToLower(req.Header.Get("Content-Encoding")) {
		case "", "identity":
		case "gzip":
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				reject("http", req.RemoteAddr, "gzip: "+err.Error(), nil)
				http.Error(w, "bad gzip", http.StatusBadRequest)
				return
			}
			body = zr
		case "deflate":
			zr, err := zlib.NewReader(req.Body)
			if err != nil {
				reject("http", req.RemoteAddr, "deflate: "+err.Error(), nil)
				http.Error(w, "bad deflate", http.StatusBadRequest)
				return
			}
			body = zr
		default:
			http.Error(w, "unsupported Content-Encoding", http.StatusUnsupportedMediaType)
			return
		}
		data, err := io.ReadAll(io.LimitReader(body, decompressLimit+1))
		if err != nil || len(data) > decompressLimit {
			reject("http", req.RemoteAddr, "body unreadable or larger than 8 MiB", nil)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		m, _, perr := parse(data, "none")
		if perr != nil {
			reject("http", req.RemoteAddr, perr.Error(), data)
			http.Error(w, perr.Error(), http.StatusBadRequest)
			return
		}
		raw, _ := json.Marshal(m)
		enc := req.Header.Get("Content-Encoding")
		if enc == "" {
			enc = "none"
		}
		accept(record{Receiver: "http", Remote: req.RemoteAddr, Compression: enc, Message: raw})
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		outMu.Lock()
		defer outMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"accepted\":%d,\"rejected\":%d}\n", accepted, rejected)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("listen http %s: %v", addr, err)
	}
	log.Printf("HTTP receiver listening on %s (POST /gelf)", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

func main() {
	var udp, udpRules, tcp, httpAddr listFlag
	flag.Var(&udp, "udp", "go-gelf UDP reader address (repeatable)")
	flag.Var(&udpRules, "udp-rules", "Graylog-rules UDP receiver address (repeatable)")
	flag.Var(&tcp, "tcp", "NUL-framed TCP receiver address (repeatable)")
	flag.Var(&httpAddr, "http", "HTTP receiver address (repeatable)")
	out := flag.String("out", "", "file receiving one JSON line per accepted message")
	rej := flag.String("rejected", "", "file receiving one JSON line per refused message")
	flag.Parse()
	if *out == "" || *rej == "" {
		log.Fatal("-out and -rejected are required")
	}
	var err error
	if outFile, err = os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		log.Fatal(err)
	}
	if rejFile, err = os.OpenFile(*rej, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		log.Fatal(err)
	}
	for _, a := range udp {
		go runGoGelf(a)
	}
	for _, a := range udpRules {
		go runUDPRules(a)
	}
	for _, a := range tcp {
		go runTCP(a)
	}
	for _, a := range httpAddr {
		go runHTTP(a)
	}
	log.Printf("gelf-peer ready")
	select {}
}
