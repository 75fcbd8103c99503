package abi

// Version of the ABI this package describes, as semantic version parts.
// A guest declares the version it was built against through the
// ExportABIVersion export; the host accepts a guest whose major equals Major
// and whose minor is at most Minor (see Compatible).
//
// History: 1.0.0, the first version; 1.1.0 adds the optional batch exports
// (ExportInboundBatch, ExportOutboundBatch) and the batch encoding.
const (
	Major = 1
	Minor = 1
	Patch = 0
)

// Version is Major, Minor and Patch packed as one uint32 the way
// ExportABIVersion returns it: major<<16 | minor<<8 | patch.
const Version = uint32(Major<<16 | Minor<<8 | Patch)

// PackVersion packs the parts of a semantic version the way
// ExportABIVersion returns it. Minor and patch are truncated to 8 bits.
func PackVersion(major, minor, patch uint32) uint32 {
	return major<<16 | (minor&0xff)<<8 | patch&0xff
}

// UnpackVersion splits a packed version into its parts.
func UnpackVersion(v uint32) (major, minor, patch uint32) {
	return v >> 16, (v >> 8) & 0xff, v & 0xff
}

// VersionString formats a packed version as "major.minor.patch".
func VersionString(v uint32) string {
	major, minor, patch := UnpackVersion(v)
	b := make([]byte, 0, 16)
	b = appendUint(b, major)
	b = append(b, '.')
	b = appendUint(b, minor)
	b = append(b, '.')
	b = appendUint(b, patch)
	return string(b)
}

// Compatible reports whether a host implementing Version can run a guest
// that declares the packed version guest: same major, guest minor not newer
// than the host's. Patch levels never affect compatibility.
func Compatible(guest uint32) bool {
	major, minor, _ := UnpackVersion(guest)
	return major == Major && minor <= Minor
}

func appendUint(b []byte, v uint32) []byte {
	var tmp [10]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// ImportModule is the Wasm import module name of the host functions of ABI
// major version 1. A later major version uses a new module name, so a guest
// can never link against functions whose meaning changed.
const ImportModule = "edgews_v1"

// Host functions, imported by the guest from ImportModule. Parameters are
// listed as Wasm types; "ptr" and "len" are i32 offsets and byte counts in
// the guest's exported memory.
const (
	// ImportWriteFrame: (flags i32, ptr i32, len i32) -> status i32.
	// Queues one frame to the browser. Flags: FlagBinary.
	ImportWriteFrame = "write_frame"
	// ImportDeliver: (flags i32, ptr i32, len i32) -> status i32.
	// Hands one decoded message to the listeners. Flags: FlagBinary.
	ImportDeliver = "deliver"
	// ImportClose: (code i32, ptr i32, len i32) -> status i32.
	// Closes the socket with code and a reason of at most MaxCloseReason bytes.
	ImportClose = "close"
	// ImportGetAttr: (key_ptr i32, key_len i32, buf_ptr i32, buf_cap i32) -> i32.
	// Returns the value's length, or AttrNotFound. Writes the value at buf_ptr
	// only when it fits in buf_cap.
	ImportGetAttr = "get_attr"
	// ImportSetAttr: (key_ptr i32, key_len i32, val_ptr i32, val_len i32) -> status i32.
	ImportSetAttr = "set_attr"
	// ImportDeleteAttr: (key_ptr i32, key_len i32) -> status i32.
	ImportDeleteAttr = "delete_attr"
	// ImportArmTimer: (id i32, after_ns i64) -> status i32. after_ns <= 0 cancels.
	ImportArmTimer = "arm_timer"
	// ImportLog: (level i32, ptr i32, len i32) -> status i32.
	ImportLog = "log"
)

// Guest exports, called by the host. Every call except ExportABIVersion and
// ExportAlloc returns a Status as i32.
const (
	// ExportMemory is the guest's linear memory; it must be exported and
	// must not be imported.
	ExportMemory = "memory"
	// ExportInitialize is the reactor start function (wasip1 "_initialize").
	// Optional; when present the host calls it once when an instance starts.
	ExportInitialize = "_initialize"
	// ExportABIVersion: () -> i32, the packed ABI version the guest targets.
	ExportABIVersion = "edgews_abi_version"
	// ExportAlloc: (size i32) -> ptr i32. Returns the guest's input buffer,
	// at least size bytes, for the host to write call input into.
	ExportAlloc = "edgews_alloc"
	// ExportInit: (len i32) -> status i32. The guest config string is in the
	// input buffer. Called once per instance, after the version check.
	ExportInit = "edgews_init"
	// ExportOpen: (len i32) -> status i32. The input buffer holds an
	// encoded OpenInfo.
	ExportOpen = "edgews_open"
	// ExportInbound: (flags i32, len i32) -> status i32. The message from the
	// browser is in the input buffer.
	ExportInbound = "edgews_inbound"
	// ExportOutbound: (flags i32, len i32) -> status i32. The message bound
	// for the browser is in the input buffer.
	ExportOutbound = "edgews_outbound"
	// ExportClose: (code i32, len i32) -> status i32. The close reason is in
	// the input buffer.
	ExportClose = "edgews_close"
	// ExportTimer: (id i32) -> status i32.
	ExportTimer = "edgews_timer"

	// ExportInboundBatch: (count i32, len i32) -> status i32. Since 1.1,
	// optional. The input buffer holds count messages from the browser in
	// the batch encoding (see AppendBatch); the guest handles them in order
	// as if each came through ExportInbound. A guest that declares 1.1 or
	// later must export it and ExportOutboundBatch.
	ExportInboundBatch = "edgews_inbound_batch"
	// ExportOutboundBatch: (count i32, len i32) -> status i32. Since 1.1,
	// optional: ExportInboundBatch for messages bound for the browser.
	ExportOutboundBatch = "edgews_outbound_batch"
)

// ImportYield: () -> fuel i32. The host adds an import of this function to
// every module it loads and calls it from checks it inserts at function
// entries and loop heads (see ABI.md, "Call budget"). Guests have no reason
// to import it themselves.
const ImportYield = "edgews.yield"

// Status is the result of most host functions and guest exports, an i32 on
// the Wasm side. The Status constants are untyped so that they compare with
// any integer type.
type Status = uint32

// Status codes. Values are stable within a major version.
const (
	StatusOK          = 0 // success
	StatusNotFound    = 1 // no such attribute or timer
	StatusBadArgument = 2 // an argument is out of its documented range, or no socket (init)
	StatusTooLarge    = 3 // a key, value or reason exceeds its limit
	StatusClosed      = 4 // the socket is already closing; nothing was queued
	StatusGuestError  = 5 // generic guest failure; guests may use higher values too
)

// ReservedAttrKey is the socket attribute in which the host counts the
// bytes the guest has stored in attributes (to enforce MaxAttrTotal). The
// guest can neither read, write nor delete it: StatusBadArgument.
const ReservedAttrKey = "wasmhost.attr_bytes"

// AttrNotFound is what ImportGetAttr returns, as i32, for a missing key. In
// general ImportGetAttr returns the negated Status when it has no value to
// give: -1 not found, -2 bad argument, -3 key too large.
const AttrNotFound = -int32(StatusNotFound)

// FlagBinary marks a binary (opcode 2) message; without it a message is
// text (opcode 1) and must be valid UTF-8.
const FlagBinary = 1 << 0

// Log levels for ImportLog; they map onto log/slog's levels.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Limits the host enforces on the guest's requests. Requests beyond a limit
// are refused with StatusTooLarge (attributes, close reason) or
// StatusBadArgument (timer ids), or truncated (log messages), never
// partially applied.
const (
	MaxAttrKey     = 256     // bytes in an attribute key
	MaxAttrValue   = 1 << 16 // bytes in an attribute value
	MaxAttrTotal   = 1 << 20 // bytes of keys plus values a guest may store per socket
	MaxCloseReason = 123     // bytes in a close reason (RFC 6455 §5.5)
	MaxLogMessage  = 1024    // bytes of one log message kept; the rest is cut
	MaxTimerID     = 255     // timer ids are 0 to MaxTimerID: at most 256 timers per socket
)
