package autobahn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"
)

// The compression cases (12.x, 13.x) cut their messages from five payload
// files. The official files (a Gutenberg text, a well-known test picture, a
// published paper, a test report in JSON and HTML) are not redistributed
// here. By default the runner generates stand-ins of the same kind and
// size: deterministic, so every run sends the same octets. Options.TestData
// can point at a directory holding the official files instead.

// payloadKeys is the order of the 12.x subsections.
var payloadKeys = []string{"json_data1", "lena512", "gutenberg_faust", "html_data1", "ooms"}

type payloadMeta struct {
	desc   string
	file   string // name of the official file
	binary bool   // sent as binary messages (text otherwise)
	size   int    // size of the official file, and of the stand-in
	gen    func(size int) []byte
}

func (m payloadMeta) kindName() string {
	if m.binary {
		return "binary"
	}
	return "utf8"
}

// unit is what message sizes count: octets for binary payloads, characters
// for text payloads (text messages are cut on character boundaries).
func (m payloadMeta) unit() string {
	if m.binary {
		return "octets"
	}
	return "characters"
}

var payloadInfo = map[string]payloadMeta{
	"gutenberg_faust": {desc: "Human readable German text", file: "pg2229.txt", binary: true, size: 222218, gen: genVerse},
	"lena512":         {desc: "Bitmap picture, 512x512 grey", file: "lena512.bmp", binary: true, size: 263222, gen: genBitmap},
	"ooms":            {desc: "A larger PDF", file: "10.1.1.105.5439.pdf", binary: true, size: 1042328, gen: genPDF},
	"json_data1":      {desc: "Large JSON data file", file: "data1.json", binary: false, size: 194056, gen: genJSON},
	"html_data1":      {desc: "Large HTML file", file: "data1.html", binary: false, size: 263647, gen: genHTML},
}

// payloadSource is one loaded payload.
type payloadSource struct {
	binary bool
	data   []byte
	runes  []int // for text: byte offset of every character, then len(data)
}

// cut returns the msgLen units starting at unit ptr, wrapping around the
// end of the payload, and the next ptr.
func (s *payloadSource) cut(ptr, msgLen int) ([]byte, int) {
	n := len(s.data)
	off := func(i int) int { return i }
	if !s.binary {
		n = len(s.runes) - 1
		off = func(i int) int { return s.runes[i] }
	}
	to := (ptr + msgLen) % n
	if to > ptr {
		return append([]byte(nil), s.data[off(ptr):off(to)]...), to
	}
	msg := append([]byte(nil), s.data[off(ptr):]...)
	return append(msg, s.data[:off(to)]...), to
}

// length is a message's length in the payload's unit.
func (s *payloadSource) length(p []byte) int {
	if s.binary {
		return len(p)
	}
	return utf8.RuneCount(p)
}

// testDataSet loads payloads lazily, once per runner.
type testDataSet struct {
	dir     string
	mu      sync.Mutex
	sources map[string]*payloadSource
}

// ErrTestData is returned when the official payload files cannot be used.
var ErrTestData = errors.New("autobahn: test data")

// check verifies that the official files exist, when a directory is set.
func (t *testDataSet) check() error {
	if t.dir == "" {
		return nil
	}
	for _, k := range payloadKeys {
		if _, err := os.Stat(filepath.Join(t.dir, payloadInfo[k].file)); err != nil {
			return fmt.Errorf("%w: %v", ErrTestData, err)
		}
	}
	return nil
}

func (t *testDataSet) get(key string) *payloadSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.sources[key]; ok {
		return s
	}
	meta := payloadInfo[key]
	var data []byte
	if t.dir != "" {
		if b, err := os.ReadFile(filepath.Join(t.dir, meta.file)); err == nil {
			data = b
		}
	}
	if data == nil {
		data = meta.gen(meta.size)
	}
	s := &payloadSource{binary: meta.binary, data: data}
	if !meta.binary {
		for i := range string(data) {
			s.runes = append(s.runes, i)
		}
		s.runes = append(s.runes, len(data))
	}
	if t.sources == nil {
		t.sources = map[string]*payloadSource{}
	}
	t.sources[key] = s
	return s
}

// prng is splitmix64: small, fast, and the same on every platform.
type prng struct{ s uint64 }

func (p *prng) next() uint64 {
	p.s += 0x9e3779b97f4a7c15
	z := p.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (p *prng) intn(n int) int { return int(p.next() % uint64(n)) }

// genJSON writes a test report shaped like an index.json, ASCII only.
func genJSON(size int) []byte {
	rng := prng{s: 1}
	verdicts := []string{"OK", "OK", "OK", "NON-STRICT", "INFORMATIONAL", "FAILED", "UNIMPLEMENTED"}
	var b strings.Builder
	b.WriteString("{\n")
	for agent := 0; b.Len() < size; agent++ {
		name := fmt.Sprintf("ExampleServer/%d.%d.%d", agent/10, agent%10, rng.intn(20))
		fmt.Fprintf(&b, "   %q: {\n", name)
		for c := 0; c < 300 && b.Len() < size; c++ {
			id := fmt.Sprintf("%d.%d.%d", 1+c/60, 1+(c/12)%5, 1+c%12)
			fmt.Fprintf(&b, "      %q: {\n", id)
			fmt.Fprintf(&b, "         \"behavior\": %q,\n", verdicts[rng.intn(len(verdicts))])
			fmt.Fprintf(&b, "         \"behaviorClose\": %q,\n", verdicts[rng.intn(3)])
			fmt.Fprintf(&b, "         \"duration\": %d,\n", rng.intn(2000))
			fmt.Fprintf(&b, "         \"remoteCloseCode\": %d,\n", 1000+rng.intn(12))
			fmt.Fprintf(&b, "         \"reportfile\": \"exampleserver_%d_case_%s.json\"\n", agent, strings.ReplaceAll(id, ".", "_"))
			b.WriteString("      },\n")
		}
		b.WriteString("   },\n")
	}
	return []byte(b.String()[:size])
}

// genHTML writes a report-like HTML table with some non-ASCII text, cut on
// a character boundary at (or just below) size octets.
func genHTML(size int) []byte {
	rng := prng{s: 2}
	words := []string{"Pass", "Fail", "Non-Strict", "Info", "Größe", "µs", "Übertragung", "naïve", "café", "–", "message", "frame", "close"}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n   <head>\n      <meta charset=\"utf-8\" />\n      <title>Report</title>\n   </head>\n   <body>\n      <table id=\"results\">\n")
	for row := 0; b.Len() < size+64; row++ {
		fmt.Fprintf(&b, "         <tr class=\"row\"><td class=\"case\"><a href=\"#case_%d\">Case %d.%d.%d</a></td>", row, 1+row/50, 1+row%7, 1+row%13)
		for c := 0; c < 3; c++ {
			w := words[rng.intn(len(words))]
			fmt.Fprintf(&b, "<td class=\"c%d\">%s %d ms</td>", c, w, rng.intn(500))
		}
		b.WriteString("</tr>\n")
	}
	out := []byte(b.String())[:size]
	for len(out) > 0 && !utf8.Valid(out) {
		out = out[:len(out)-1]
	}
	return out
}

// genVerse writes German-looking verse (with a byte order mark, like the
// Gutenberg file).
func genVerse(size int) []byte {
	rng := prng{s: 3}
	words := []string{"ich", "du", "der", "die", "das", "und", "nicht", "Geist", "Welt", "Nacht", "Herz", "Himmel", "Erde", "schön", "Tür", "früh", "hören", "müssen", "Träume", "süß", "Licht", "Wald", "Stunde", "groß", "Fluß", "weiß", "Mädchen", "über", "zurück", "Leben"}
	var b strings.Builder
	b.WriteString("\ufeff")
	for b.Len() < size {
		n := 4 + rng.intn(6)
		for i := 0; i < n; i++ {
			w := words[rng.intn(len(words))]
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			if i < n-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString([]string{",\r\n", ".\r\n", "!\r\n", ";\r\n", "\r\n\r\n"}[rng.intn(5)])
	}
	return []byte(b.String())[:size]
}

// genBitmap writes a 512x512 8-bit grey BMP with smooth shapes and noise.
func genBitmap(size int) []byte {
	const w, h, offset = 512, 512, 14 + 40 + 1024
	out := make([]byte, offset, offset+w*h)
	copy(out, "BM")
	binary.LittleEndian.PutUint32(out[2:], uint32(offset+w*h))
	binary.LittleEndian.PutUint32(out[10:], offset)
	binary.LittleEndian.PutUint32(out[14:], 40)
	binary.LittleEndian.PutUint32(out[18:], w)
	binary.LittleEndian.PutUint32(out[22:], h)
	binary.LittleEndian.PutUint16(out[26:], 1)
	binary.LittleEndian.PutUint16(out[28:], 8)
	binary.LittleEndian.PutUint32(out[34:], w*h)
	binary.LittleEndian.PutUint32(out[46:], 256)
	for i := 0; i < 256; i++ {
		p := 54 + 4*i
		out[p], out[p+1], out[p+2] = byte(i), byte(i), byte(i)
	}
	// Integer arithmetic only, so the octets are the same on every platform.
	rng := prng{s: 4}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 128 + tri(x, 144)*tri(y, 196)/96 + tri(x+y, 296)/3 + rng.intn(17) - 8
			out = append(out, byte(max(0, min(255, v))))
		}
	}
	return fitSize(out, size)
}

// genPDF writes a PDF-like file: text objects and streams of
// incompressible data, as in a real PDF whose streams are compressed.
func genPDF(size int) []byte {
	rng := prng{s: 5}
	out := []byte("%PDF-1.2\n%\xe2\xe3\xcf\xd3\n")
	for obj := 1; len(out) < size; obj++ {
		if obj%3 == 0 {
			out = fmt.Appendf(out, "%d 0 obj\n<< /Type /Page /Parent 2 0 R /Resources %d 0 R /Contents %d 0 R >>\nendobj\n", obj, obj+1, obj+2)
			continue
		}
		n := 2000 + rng.intn(6000)
		out = fmt.Appendf(out, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", obj, n)
		for i := 0; i < n; i += 8 {
			out = binary.LittleEndian.AppendUint64(out, rng.next())
		}
		out = append(out, "\nendstream\nendobj\n"...)
	}
	return fitSize(out, size)
}

// tri is a triangle wave with the given period, from -48 to 48.
func tri(t, period int) int {
	p := t % period
	return (abs(2*p-period)*96)/period - 48
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func fitSize(b []byte, size int) []byte {
	if len(b) >= size {
		return b[:size]
	}
	return append(b, make([]byte, size-len(b))...)
}
