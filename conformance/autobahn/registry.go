package autobahn

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// caseSpec defines one case: what the client sends, what it expects, and
// how the verdict is adjusted at the end.
type caseSpec struct {
	id     string
	tuple  []int
	desc   string
	expect string
	// limit is the longest the case can legitimately take (its own timers);
	// the runner aborts a case that runs 10 s past it.
	limit time.Duration
	setup func(r *run) // before connecting (compression offers)
	open  func(r *run) // when the connection is open
	lost  func(r *run) // after the common verdict, to adjust it
}

type caseRegistry struct {
	list          []*caseSpec // in case-id order
	byID          map[string]*caseSpec
	categories    map[string]string // "6" -> title
	subcategories map[string]string // "6.4" -> title
}

// registry holds every case of the sections this runner implements. It is
// built once and never modified.
var registry = sync.OnceValue(buildRegistry)

func buildRegistry() *caseRegistry {
	reg := &caseRegistry{
		byID: map[string]*caseSpec{},
		categories: map[string]string{
			"1": "Framing", "2": "Pings/Pongs", "3": "Reserved Bits", "4": "Opcodes",
			"5": "Fragmentation", "6": "UTF-8 Handling", "7": "Close Handling",
			"9": "Limits/Performance", "10": "Misc",
			"12": "WebSocket Compression (different payloads)",
			"13": "WebSocket Compression (different parameters)",
		},
		subcategories: map[string]string{},
	}
	add := func(specs []*caseSpec, subs map[string]string) {
		for _, s := range specs {
			s.tuple = idTuple(s.id)
			reg.byID[s.id] = s
			reg.list = append(reg.list, s)
		}
		for k, v := range subs {
			reg.subcategories[k] = v
		}
	}
	add(section1())
	add(section2())
	add(section3())
	add(section4())
	add(section5())
	add(section6())
	add(section7())
	add(section9())
	add(section10())
	add(section12())
	add(section13())
	slices.SortFunc(reg.list, func(a, b *caseSpec) int { return slices.Compare(a.tuple, b.tuple) })
	return reg
}

func idTuple(id string) []int {
	parts := strings.Split(id, ".")
	t := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		t[i] = n
	}
	return t
}

// ErrUnknownCase is returned when a selection names a case that does not exist.
var ErrUnknownCase = errors.New("autobahn: unknown case")

// CaseIDs resolves case patterns the way the official suite does: "*"
// matches any text, a pattern matches a case id that starts with it
// ("1.*" selects section 1, "6.4.*" one subsection), and a pattern without
// "*" names one case. Excluded cases are removed. The result is in case-id
// order. Empty include patterns select every case.
func CaseIDs(include, exclude []string) ([]string, error) {
	if len(include) == 0 {
		include = []string{"*"}
	}
	in, err := resolvePatterns(include)
	if err != nil {
		return nil, err
	}
	out, err := resolvePatterns(exclude)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range registry().list {
		if in[s.id] && !out[s.id] {
			ids = append(ids, s.id)
		}
	}
	return ids, nil
}

func resolvePatterns(patterns []string) (map[string]bool, error) {
	set := map[string]bool{}
	reg := registry()
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "*") {
			if _, ok := reg.byID[p]; !ok {
				return nil, fmt.Errorf("%w: %q", ErrUnknownCase, p)
			}
			set[p] = true
			continue
		}
		parts := strings.Split(p, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re, err := regexp.Compile("^" + strings.Join(parts, ".*"))
		if err != nil {
			return nil, fmt.Errorf("%w: pattern %q", ErrUnknownCase, p)
		}
		for _, s := range reg.list {
			if re.MatchString(s.id) {
				set[s.id] = true
			}
		}
	}
	return set, nil
}

// seconds is a readability helper for case timers.
func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
