package autobahn

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := registry()
	if len(reg.byID) != len(reg.list) {
		t.Fatalf("%d ids for %d cases: duplicates", len(reg.byID), len(reg.list))
	}
	// Case counts per section, as in the official suite.
	want := map[string]int{"1": 16, "2": 11, "3": 7, "4": 10, "5": 20, "6": 145, "7": 37, "9": 54, "10": 1, "12": 90, "13": 126}
	got := map[string]int{}
	for _, s := range reg.list {
		got[strings.Split(s.id, ".")[0]]++
		if s.desc == "" || s.expect == "" || s.open == nil || s.limit <= 0 || s.tuple == nil {
			t.Errorf("case %s is incomplete", s.id)
		}
		sub := strings.Join(strings.Split(s.id, ".")[:2], ".")
		if strings.Count(s.id, ".") == 2 && reg.subcategories[sub] == "" {
			t.Errorf("case %s: no title for %s", s.id, sub)
		}
	}
	for sec, n := range want {
		if got[sec] != n {
			t.Errorf("section %s has %d cases, want %d", sec, got[sec], n)
		}
	}
	if len(reg.list) != 517 {
		t.Errorf("%d cases, want 517", len(reg.list))
	}
}

func TestCaseIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		include, exclude []string
		n                int
		first, last      string
	}{
		{nil, nil, 517, "1.1.1", "13.7.18"},
		{[]string{"1.*"}, nil, 16, "1.1.1", "1.2.8"},
		{[]string{"6.4.*", "2.1"}, nil, 5, "2.1", "6.4.4"},
		{[]string{"*"}, []string{"9.*", "12.*", "13.*"}, 247, "1.1.1", "10.1.1"},
		{[]string{"1*"}, nil, 16 + 1 + 90 + 126, "1.1.1", "13.7.18"}, // "1*" also matches 10, 12 and 13
		{[]string{"5.1"}, nil, 1, "5.1", "5.1"},
	} {
		ids, err := CaseIDs(tc.include, tc.exclude)
		if err != nil {
			t.Fatalf("%v: %v", tc.include, err)
		}
		if len(ids) != tc.n || ids[0] != tc.first || ids[len(ids)-1] != tc.last {
			t.Errorf("%v - %v: %d cases %s..%s, want %d %s..%s", tc.include, tc.exclude, len(ids), ids[0], ids[len(ids)-1], tc.n, tc.first, tc.last)
		}
	}
	if _, err := CaseIDs([]string{"8.1"}, nil); !errors.Is(err, ErrUnknownCase) {
		t.Errorf("unknown case: err = %v", err)
	}
}

func TestUTF8SequenceCounts(t *testing.T) {
	t.Parallel()
	groups := utf8Sequences()
	if len(groups) != 19 {
		t.Fatalf("%d groups, want 19 (6.5 to 6.23)", len(groups))
	}
	total, invalid := 0, 0
	for _, g := range groups {
		for _, s := range g.seqs {
			total++
			if !s.valid {
				invalid++
			}
			if s.valid != utf8.Valid(s.data) {
				t.Errorf("%s: %x marked valid=%v", g.title, s.data, s.valid)
			}
		}
	}
	if total != 132 || invalid != 69 {
		t.Errorf("%d sequences, %d invalid; want 132 and 69", total, invalid)
	}
}

func TestGeneratedPayloads(t *testing.T) {
	t.Parallel()
	for _, key := range payloadKeys {
		meta := payloadInfo[key]
		a, b := meta.gen(meta.size), meta.gen(meta.size)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: not deterministic", key)
		}
		if !meta.binary {
			if !utf8.Valid(a) || len(a) > meta.size || len(a) < meta.size-4 {
				t.Errorf("%s: %d octets, valid %v", key, len(a), utf8.Valid(a))
			}
		} else if len(a) != meta.size {
			t.Errorf("%s: %d octets, want %d", key, len(a), meta.size)
		}
	}
	// The octets sent are part of the cases: they must not change unnoticed.
	h := sha256.New()
	for _, key := range payloadKeys {
		h.Write(payloadInfo[key].gen(payloadInfo[key].size))
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != goldenPayloads {
		t.Errorf("generated payloads changed: sha256 %s, want %s", got, goldenPayloads)
	}
}

// goldenPayloads is the SHA-256 of the five generated payloads, in payloadKeys order.
const goldenPayloads = "916322a72c0eb9e6703d144516c1f24da44c20497359cd52729ab37c022b1174"

func TestPayloadCut(t *testing.T) {
	t.Parallel()
	s := &payloadSource{data: []byte("aµcdé")}
	for i := range string(s.data) {
		s.runes = append(s.runes, i)
	}
	s.runes = append(s.runes, len(s.data))
	msg, next := s.cut(0, 2)
	if string(msg) != "aµ" || next != 2 {
		t.Errorf("cut(0,2) = %q, %d", msg, next)
	}
	msg, next = s.cut(4, 3) // wraps around
	if string(msg) != "éaµ" || next != 2 {
		t.Errorf("cut(4,3) = %q, %d", msg, next)
	}
	if n := s.length(msg); n != 3 {
		t.Errorf("length = %d, want 3 characters", n)
	}
	bin := &payloadSource{binary: true, data: []byte{1, 2, 3}}
	msg, next = bin.cut(2, 3) // a full turn
	if !bytes.Equal(msg, []byte{3, 1, 2}) || next != 2 {
		t.Errorf("binary cut = %v, %d", msg, next)
	}
}
