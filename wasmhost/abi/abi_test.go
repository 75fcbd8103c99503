package abi

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file; an ABI change must move the version.\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestConstantsGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	fmt.Fprintf(&b, "version %s packed 0x%06x\n", VersionString(Version), Version)
	fmt.Fprintf(&b, "import module %s\n", ImportModule)
	for _, s := range []string{ImportWriteFrame, ImportDeliver, ImportClose, ImportGetAttr, ImportSetAttr, ImportDeleteAttr, ImportArmTimer, ImportLog, ImportYield} {
		fmt.Fprintf(&b, "import %s\n", s)
	}
	for _, s := range []string{ExportMemory, ExportInitialize, ExportABIVersion, ExportAlloc, ExportInit, ExportOpen, ExportInbound, ExportOutbound, ExportClose, ExportTimer, ExportInboundBatch, ExportOutboundBatch} {
		fmt.Fprintf(&b, "export %s\n", s)
	}
	for _, s := range []struct {
		name string
		v    Status
	}{{"ok", StatusOK}, {"not_found", StatusNotFound}, {"bad_argument", StatusBadArgument}, {"too_large", StatusTooLarge}, {"closed", StatusClosed}, {"guest_error", StatusGuestError}} {
		fmt.Fprintf(&b, "status %s %d\n", s.name, s.v)
	}
	fmt.Fprintf(&b, "attr_not_found %d\nflag_binary %d\nreserved_attr %s\n", AttrNotFound, FlagBinary, ReservedAttrKey)
	fmt.Fprintf(&b, "log debug=%d info=%d warn=%d error=%d\n", LogDebug, LogInfo, LogWarn, LogError)
	fmt.Fprintf(&b, "limit attr_key=%d attr_value=%d attr_total=%d close_reason=%d log_message=%d timer_id=%d\n", MaxAttrKey, MaxAttrValue, MaxAttrTotal, MaxCloseReason, MaxLogMessage, MaxTimerID)
	fmt.Fprintf(&b, "batch header=%d message_header=%d max_count=%d max_bytes=%d\n", BatchHeaderSize, BatchMessageHeaderSize, MaxBatchCount, MaxBatchBytes)
	golden(t, "constants_v1.golden", b.Bytes())
}

func TestOpenInfoGolden(t *testing.T) {
	t.Parallel()
	info := OpenInfo{SocketID: "s-1", Path: "/socket.io/", Query: "EIO=4&transport=websocket", User: "3", Context: "1", RemoteAddr: "127.0.0.1:5000"}
	enc := AppendOpenInfo(nil, info)
	golden(t, "open_info_v1.bin", enc)
	got, err := DecodeOpenInfo(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got != info {
		t.Fatalf("round trip: got %+v, want %+v", got, info)
	}
}

func TestDecodeOpenInfo(t *testing.T) {
	t.Parallel()
	full := AppendOpenInfo(nil, OpenInfo{SocketID: "a", Path: "/p"})
	// An encoder of a later minor version that appends one field.
	later := appendU32(nil, 7)
	for _, s := range []string{"a", "/p", "", "", "", "", "extra"} {
		later = appendU32(later, uint32(len(s)))
		later = append(later, s...)
	}
	// An older encoder that sent only two fields.
	older := appendU32(nil, 2)
	for _, s := range []string{"a", "/p"} {
		older = appendU32(older, uint32(len(s)))
		older = append(older, s...)
	}
	tests := []struct {
		name    string
		in      []byte
		want    OpenInfo
		wantErr bool
	}{
		{"full", full, OpenInfo{SocketID: "a", Path: "/p"}, false},
		{"later minor", later, OpenInfo{SocketID: "a", Path: "/p"}, false},
		{"older", older, OpenInfo{SocketID: "a", Path: "/p"}, false},
		{"empty", nil, OpenInfo{}, true},
		{"short count", []byte{1, 0}, OpenInfo{}, true},
		{"length past end", []byte{1, 0, 0, 0, 9, 0, 0, 0, 'x'}, OpenInfo{}, true},
		{"huge length", []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, OpenInfo{}, true},
		{"trailing bytes", append(append([]byte{}, full...), 0), OpenInfo{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeOpenInfo(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v          uint32
		str        string
		compatible bool
	}{
		{Version, "1.1.0", true},
		{PackVersion(1, 0, 0), "1.0.0", true},
		{PackVersion(1, 0, 9), "1.0.9", true},
		{PackVersion(1, Minor+1, 0), fmt.Sprintf("1.%d.0", Minor+1), false},
		{PackVersion(2, 0, 0), "2.0.0", false},
		{PackVersion(0, 9, 0), "0.9.0", false},
		{PackVersion(65535, 255, 255), "65535.255.255", false},
	}
	for _, tc := range tests {
		if got := VersionString(tc.v); got != tc.str {
			t.Errorf("VersionString(%#x) = %q, want %q", tc.v, got, tc.str)
		}
		if got := Compatible(tc.v); got != tc.compatible {
			t.Errorf("Compatible(%s) = %v, want %v", tc.str, got, tc.compatible)
		}
	}
}

func FuzzDecodeOpenInfo(f *testing.F) {
	f.Add(AppendOpenInfo(nil, OpenInfo{SocketID: "s", Path: "/x", Query: "a=b"}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := DecodeOpenInfo(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := DecodeOpenInfo(AppendOpenInfo(nil, info))
		if err != nil || again != info {
			t.Fatalf("re-encode: %+v, %v", again, err)
		}
	})
}
