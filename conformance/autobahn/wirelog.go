package autobahn

import (
	"encoding/hex"
	"time"
	"unicode/utf8"
)

// The wire log records what went over the wire, in the row format of the
// official reports: "RO"/"TO" for octets received/sent, "RF"/"TF" for
// frames, "CT"/"CTE" for a case's delayed continuation, "KL"/"KLE" for a
// pending kill, "TI"/"TIE" for a pending close, "WLM" when a case turns the
// log off or on. Payloads are cut to logDataMax octets.
const logDataMax = 64

// binLogData renders octets as hex, cut to logDataMax octets.
func binLogData(p []byte) string {
	if len(p) > logDataMax-4 {
		return hex.EncodeToString(p[:min(len(p), logDataMax)]) + " ..."
	}
	return hex.EncodeToString(p)
}

// asciiLogData renders a payload as text when it is UTF-8, as hex
// (prefixed 0x) otherwise, cut to logDataMax octets.
func asciiLogData(p []byte) string {
	d := p
	suffix := ""
	if len(p) > logDataMax-4 {
		d = p[:min(len(p), logDataMax)]
		suffix = " ..."
	}
	if utf8.Valid(d) {
		return string(d) + suffix
	}
	return "0x" + binLogData(p)
}

func (r *run) logRxOctets(p []byte) {
	r.rxOctets[len(p)]++
	if r.wirelogOn {
		r.wirelog = append(r.wirelog, []any{"RO", []any{len(p), binLogData(p)}})
	}
}

func (r *run) logTxOctets(p []byte, sync bool) {
	r.txOctets[len(p)]++
	if r.wirelogOn {
		r.wirelog = append(r.wirelog, []any{"TO", []any{len(p), binLogData(p)}, sync})
	}
}

// logRxFramePart remembers the start of the payload of the frame being
// received, for the frame's log row.
func (r *run) logRxFramePart(p []byte) {
	if !r.wirelogOn {
		return
	}
	if room := logDataMax - len(r.rfHead); room > 0 {
		r.rfHead = append(r.rfHead, p[:min(room, len(p))]...)
	}
	r.rfLen += len(p)
}

func (r *run) logRxFrame(h *frameHeader, ctrl []byte) {
	r.rxFrames[int(h.opcode)]++
	head, n := r.rfHead, r.rfLen
	r.rfHead, r.rfLen = r.rfHead[:0], 0
	if !r.wirelogOn {
		return
	}
	if h.opcode > 7 {
		head, n = ctrl, len(ctrl)
	}
	var mask any
	if h.masked {
		mask = hex.EncodeToString(h.mask[:])
	}
	r.wirelog = append(r.wirelog, []any{"RF", []any{n, asciiLogData(head)}, int(h.opcode), h.fin, int(h.rsv), h.masked, mask})
}

func (r *run) logTxFrame(opcode byte, f frameSpec, payload []byte, length int, mask []byte) {
	r.txFrames[int(opcode)]++
	if !r.wirelogOn {
		return
	}
	var repeat, chop any
	if f.repeat >= 0 {
		repeat = f.repeat
	}
	if f.chop > 0 {
		chop = f.chop
	}
	r.wirelog = append(r.wirelog, []any{"TF", []any{len(payload), asciiLogData(payload)}, int(opcode), f.fin, int(f.rsv), hex.EncodeToString(mask), repeat, chop, f.sync})
}

// enableWirelog turns the wire log on or off (large cases turn it off).
func (r *run) enableWirelog(on bool) {
	if on != r.wirelogOn {
		r.wirelogOn = on
		r.wirelog = append(r.wirelog, []any{"WLM", on})
	}
}

// continueLater runs fn after d unless the connection is gone by then.
func (r *run) continueLater(d time.Duration, tag string, fn func()) {
	var t any
	if tag != "" {
		t = tag
	}
	r.wirelog = append(r.wirelog, []any{"CT", d.Seconds(), t})
	r.callLater(d, func() {
		if r.state != stateClosed {
			r.wirelog = append(r.wirelog, []any{"CTE", t})
			fn()
		}
	})
}

// killAfter fails the connection after d unless it is gone by then.
func (r *run) killAfter(d time.Duration) {
	r.wirelog = append(r.wirelog, []any{"KL", d.Seconds()})
	r.callLater(d, func() {
		if r.state != stateClosed {
			r.wirelog = append(r.wirelog, []any{"KLE"})
			r.failConnection(closeGoingAway, "Going Away")
		}
	})
}

// closeAfter starts a closing handshake (without a code) after d unless
// the connection is gone by then.
func (r *run) closeAfter(d time.Duration) {
	r.wirelog = append(r.wirelog, []any{"TI", d.Seconds()})
	r.callLater(d, func() {
		if r.state != stateClosed {
			r.wirelog = append(r.wirelog, []any{"TIE"})
			r.sendClose(nil, nil)
		}
	})
}

// trafficStats counts data-message traffic, as the official client does;
// the compression cases report ratios from it.
type trafficStats struct {
	OutgoingOctetsWireLevel        int
	OutgoingOctetsWebSocketLevel   int
	OutgoingOctetsAppLevel         int
	OutgoingWebSocketFrames        int
	OutgoingWebSocketMessages      int
	IncomingOctetsWireLevel        int
	IncomingOctetsWebSocketLevel   int
	IncomingOctetsAppLevel         int
	IncomingWebSocketFrames        int
	IncomingWebSocketMessages      int
	PreopenOutgoingOctetsWireLevel int
	PreopenIncomingOctetsWireLevel int
}

func ratio(a, b int) any {
	if b <= 0 {
		return nil
	}
	return float64(a) / float64(b)
}

func (t *trafficStats) json() map[string]any {
	return map[string]any{
		"outgoingOctetsWireLevel":        t.OutgoingOctetsWireLevel,
		"outgoingOctetsWebSocketLevel":   t.OutgoingOctetsWebSocketLevel,
		"outgoingOctetsAppLevel":         t.OutgoingOctetsAppLevel,
		"outgoingCompressionRatio":       ratio(t.OutgoingOctetsWebSocketLevel, t.OutgoingOctetsAppLevel),
		"outgoingWebSocketOverhead":      ratio(t.OutgoingOctetsWireLevel-t.OutgoingOctetsWebSocketLevel, t.OutgoingOctetsWebSocketLevel),
		"outgoingWebSocketFrames":        t.OutgoingWebSocketFrames,
		"outgoingWebSocketMessages":      t.OutgoingWebSocketMessages,
		"preopenOutgoingOctetsWireLevel": t.PreopenOutgoingOctetsWireLevel,
		"incomingOctetsWireLevel":        t.IncomingOctetsWireLevel,
		"incomingOctetsWebSocketLevel":   t.IncomingOctetsWebSocketLevel,
		"incomingOctetsAppLevel":         t.IncomingOctetsAppLevel,
		"incomingCompressionRatio":       ratio(t.IncomingOctetsWebSocketLevel, t.IncomingOctetsAppLevel),
		"incomingWebSocketOverhead":      ratio(t.IncomingOctetsWireLevel-t.IncomingOctetsWebSocketLevel, t.IncomingOctetsWebSocketLevel),
		"incomingWebSocketFrames":        t.IncomingWebSocketFrames,
		"incomingWebSocketMessages":      t.IncomingWebSocketMessages,
		"preopenIncomingOctetsWireLevel": t.PreopenIncomingOctetsWireLevel,
	}
}
