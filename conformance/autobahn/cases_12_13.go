package autobahn

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"strings"
	"time"
)

// compressionRun is one row of the message-size table of sections 12 and
// 13: message length, message count, time limit, auto-fragment size.
type compressionRun struct {
	size, count int
	wait        time.Duration
	frag        int
}

var compressionRuns = []compressionRun{
	{16, 1000, 60 * time.Second, 0},
	{64, 1000, 60 * time.Second, 0},
	{256, 1000, 120 * time.Second, 0},
	{1024, 1000, 240 * time.Second, 0},
	{4096, 1000, 480 * time.Second, 0},
	{8192, 1000, 480 * time.Second, 0},
	{16384, 1000, 480 * time.Second, 0},
	{32768, 1000, 480 * time.Second, 0},
	{65536, 1000, 480 * time.Second, 0},
	{131072, 1000, 480 * time.Second, 0},
	{8192, 1000, 480 * time.Second, 256},
	{16384, 1000, 480 * time.Second, 256},
	{32768, 1000, 480 * time.Second, 256},
	{65536, 1000, 480 * time.Second, 256},
	{131072, 1000, 480 * time.Second, 256},
	{131072, 1000, 480 * time.Second, 1024},
	{131072, 1000, 480 * time.Second, 4096},
	{131072, 1000, 480 * time.Second, 32768},
}

// Section 12: the default permessage-deflate offer with different payloads.
func section12() ([]*caseSpec, map[string]string) {
	var specs []*caseSpec
	subs := map[string]string{}
	for j, key := range payloadKeys {
		info := payloadInfo[key]
		subs[fmt.Sprintf("12.%d", j+1)] = fmt.Sprintf("%s (%s, %d bytes)", info.desc, info.kindName(), info.size)
		for i, cr := range compressionRuns {
			specs = append(specs, compressionCase(fmt.Sprintf("12.%d.%d", j+1, i+1), key, cr, []deflateOffer{defaultOffer()},
				fmt.Sprintf("Send %d compressed messages of %d %s each, auto-fragmented to %d octets, using the default permessage-deflate offer.", cr.count, cr.size, info.unit(), cr.frag)))
		}
	}
	return specs, subs
}

// Section 13: one payload with different permessage-deflate parameters.
func section13() ([]*caseSpec, map[string]string) {
	offer := func(noContext bool, bits int) deflateOffer {
		o := defaultOffer()
		o.requestNoContextTakeover = noContext
		o.requestMaxWindowBits = bits
		return o
	}
	params := [][]deflateOffer{
		{defaultOffer()},
		{offer(true, 0)},
		{offer(false, 9)},
		{offer(false, 15)},
		{offer(true, 9)},
		{offer(true, 15)},
		{offer(true, 9), offer(true, 0), defaultOffer()},
	}
	const key = "json_data1"
	info := payloadInfo[key]
	var specs []*caseSpec
	subs := map[string]string{}
	for j, offers := range params {
		var desc []string
		for _, o := range offers {
			desc = append(desc, fmt.Sprintf("(server_no_context_takeover: %v, server_max_window_bits: %d)", o.requestNoContextTakeover, o.requestMaxWindowBits))
		}
		offerText := strings.Join(desc, ", ")
		subs[fmt.Sprintf("13.%d", j+1)] = fmt.Sprintf("%s (%s, %d bytes), client offers %s", info.desc, info.kindName(), info.size, offerText)
		for i, cr := range compressionRuns {
			specs = append(specs, compressionCase(fmt.Sprintf("13.%d.%d", j+1, i+1), key, cr, offers,
				fmt.Sprintf("Send %d compressed messages of %d %s each, auto-fragmented to %d octets. The client offers %s.", cr.count, cr.size, info.unit(), cr.frag, offerText)))
		}
	}
	return specs, subs
}

// compressionCase sends count messages, one at a time, each cut from the
// payload at a running offset (wrapping around), and checks every echo's
// type, length and SHA-1. Without a negotiated permessage-deflate the case
// is UNIMPLEMENTED.
func compressionCase(id, key string, cr compressionRun, offers []deflateOffer, desc string) *caseSpec {
	return &caseSpec{
		id:     id,
		desc:   desc,
		expect: fmt.Sprintf("Every message comes back as sent. The case ends after %s.", cr.wait),
		limit:  cr.wait,
		setup: func(r *run) {
			r.reportTime = true
			r.reportCompressionRatio = true
			r.closeNormally()
			r.offers = offers
			r.acceptDeflate = true
		},
		open: func(r *run) {
			r.enableWirelog(false)
			r.autoFragmentSize = cr.frag
			if r.pmce == nil {
				r.behavior = Unimplemented
				r.closeWith(closeNormal)
				return
			}
			src := r.cfg.data.get(key)
			r.behavior = Failed
			r.result = fmt.Sprintf("The case did not finish within %s.", cr.wait)
			r.closeAfter(cr.wait)
			ptr, sent := 0, 0
			var want [sha1.Size]byte
			sendOne := func() {
				var msg []byte
				msg, ptr = src.cut(ptr, cr.size)
				want = sha1.Sum(msg)
				r.sendMessage(msg, src.binary, 0)
				sent++
			}
			r.onMessage = func(payload []byte, isBinary bool) {
				got := sha1.Sum(payload)
				n := src.length(payload)
				switch {
				case isBinary != src.binary:
					r.result = fmt.Sprintf("An echo has the wrong type (binary: %v, want %v).", isBinary, src.binary)
				case n != cr.size:
					r.result = fmt.Sprintf("An echo has length %d, want %d.", n, cr.size)
				case !bytes.Equal(got[:], want[:]):
					r.result = fmt.Sprintf("An echo has SHA-1 %x, want %x.", got, want)
				case sent < cr.count:
					sendOne()
					return
				default:
					r.behavior = OK
					r.result = "All echoes arrived in time."
					t := r.traffic
					r.trafficResult = &t
					r.enableWirelog(true)
					r.closeWith(closeNormal)
					return
				}
				r.behavior = Failed
				r.enableWirelog(true)
				r.closeWith(closeNormal)
			}
			sendOne()
		},
	}
}
