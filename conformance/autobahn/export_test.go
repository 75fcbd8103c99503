package autobahn

import "fmt"

// InvalidUTF8Cases lists the section 6 cases that send invalid UTF-8: the
// ones a server that echoes without checking must fail.
func InvalidUTF8Cases() []string {
	ids := []string{"6.3.1", "6.3.2", "6.4.1", "6.4.2", "6.4.3", "6.4.4"}
	for i, g := range utf8Sequences() {
		for j, s := range g.seqs {
			if !s.valid {
				ids = append(ids, fmt.Sprintf("6.%d.%d", i+5, j+1))
			}
		}
	}
	return ids
}
