package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tetratelabs/wazero"

	"github.com/edgews/edgews/server"
	"github.com/edgews/edgews/wasmhost"
	"github.com/edgews/edgews/wasmhost/harness"
)

func newTranscoderCmd() *cobra.Command {
	tr := &cobra.Command{
		Use:   "transcoder",
		Short: "Work with WASM transcoder modules",
	}
	var guestConfig, query string
	var timeout time.Duration
	validate := &cobra.Command{
		Use:   "validate FILE.wasm",
		Short: "Compile a module, check its ABI, run it through a standard exercise, and list its imports and exports",
		Long: `validate compiles FILE.wasm as edgews would, checks that it declares a supported
ABI version and has every required export, starts an instance with --config, and
then runs it through a standard exercise on a simulated socket: open, one inbound
and one outbound text message, every timer it armed, and close. It prints what the
module did at each step. Exit status 0 when the module loads and no step fails
with a trap, timeout, memory or emit limit, or bad pointer; 1 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return validateTranscoder(cmd.OutOrStdout(), args[0], guestConfig, query, timeout)
		},
	}
	validate.Flags().StringVar(&guestConfig, "config", "", "the opaque config string to start the module with")
	validate.Flags().StringVar(&query, "query", "EIO=4&transport=websocket", "the URL query of the simulated socket")
	validate.Flags().DurationVar(&timeout, "timeout", 250*time.Millisecond, "the wall-clock budget of each call")
	tr.AddCommand(validate, newCompareCmd())
	return tr
}

func newCompareCmd() *cobra.Command {
	var o harness.CompareOptions
	var guestConfig, query, message string
	var binary bool
	cmd := &cobra.Command{
		Use:   "compare A.wasm B.wasm",
		Short: "Measure two transcoder modules side by side: per-message cost and the ratio B/A",
		Long: `compare loads A.wasm and B.wasm (for instance the same transcoder before and
after a change) and passes the same batches of messages in and out of each, in
short rounds that take turns, on a socket opened with --query. It prints each
module's median cost per message and the median (and quartiles) of the
per-round ratio B/A: on a shared, noisy machine that ratio is steady where two
separate benchmark runs are not. The host side keeps attributes and discards
output, so the figures are the modules' cost plus wasmhost's own.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			o.Config.GuestConfig = guestConfig
			o.CacheDir = server.DefaultConfig().WASM.CacheDir
			o.Socket = wasmhost.SocketInfo{ID: "compare.1", User: "compare", Context: "0", Path: "/compare", RawQuery: query, RemoteAddr: "127.0.0.1:1"}
			if message != "" {
				o.Message = []byte(message)
			}
			o.Binary = binary
			res, err := harness.Compare(cmd.Context(), a, b, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "A = %s, B = %s; %d messages per call, %d rounds of %d calls each\n", args[0], args[1], res.Batch, res.Rounds, res.Calls)
			fmt.Fprintf(out, "%-9s %12s %12s   %s\n", "direction", "A ns/msg", "B ns/msg", "B/A: median of rounds (p25-p75)")
			for _, d := range res.Directions {
				fmt.Fprintf(out, "%-9s %12.1f %12.1f   %.3f (%.3f-%.3f)\n", d.Direction, d.AMedian, d.BMedian, d.RatioMed, d.RatioP25, d.RatioP75)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&guestConfig, "config", "", "the opaque config string to start both modules with")
	f.StringVar(&query, "query", "EIO=4&transport=websocket", "the URL query of the simulated socket")
	f.StringVar(&message, "message", "", "the message passed (default: 100 bytes of text)")
	f.BoolVar(&binary, "binary", false, "pass the message as binary")
	f.IntVar(&o.Batch, "batch", 16, "messages per call (1: the single-message exports)")
	f.IntVar(&o.Rounds, "rounds", 200, "rounds (each module takes one turn per round)")
	f.IntVar(&o.Calls, "calls", 50, "calls per module and round")
	f.DurationVar(&o.MaxDuration, "max-duration", time.Minute, "stop starting rounds after this long (per direction)")
	return cmd
}

func validateTranscoder(out io.Writer, file, guestConfig, query string, timeout time.Duration) error {
	wasm, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Fprintf(out, "module %s (%d bytes)\n", file, len(wasm))

	// Imports and exports, read with the interpreter (quick to compile).
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		rt.Close(ctx)
		return fmt.Errorf("not a valid WebAssembly module: %w", err)
	}
	var imports, exports []string
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		imports = append(imports, mod+"."+name)
	}
	for name := range cm.ExportedFunctions() {
		exports = append(exports, name)
	}
	rt.Close(ctx)
	sort.Strings(imports)
	sort.Strings(exports)
	fmt.Fprintf(out, "exports: %s\n", strings.Join(exports, ", "))
	fmt.Fprintf(out, "imports: %s\n", strings.Join(imports, ", "))

	start := time.Now()
	h, err := harness.Load(ctx, wasm, harness.Options{
		Config:   wasmhost.ModuleConfig{GuestConfig: guestConfig, CallTimeout: timeout},
		CacheDir: server.DefaultConfig().WASM.CacheDir,
	})
	if err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	defer h.Close()
	fmt.Fprintf(out, "loaded: ABI version accepted, exports present, instance started (%v)\n", time.Since(start).Round(time.Millisecond))

	s := h.NewSocket(wasmhost.SocketInfo{ID: "validate.1", User: "validator", Context: "0", Path: "/validate", RawQuery: query, RemoteAddr: "127.0.0.1:1"})
	failed := false
	step := func(name string, f func() error) {
		err := f()
		frames, deliveries := s.TakeFrames(), s.TakeDeliveries()
		status := "ok"
		var ce *wasmhost.CallError
		switch {
		case errors.As(err, &ce) && ce.Kind == wasmhost.KindGuestStatus:
			status = "guest error: " + ce.Reason()
		case err != nil:
			status = "FAILED: " + err.Error()
			failed = true
		}
		fmt.Fprintf(out, "%-9s %s\n", name, status)
		for _, f := range frames {
			fmt.Fprintf(out, "          -> browser  %s\n", f)
		}
		for _, d := range deliveries {
			fmt.Fprintf(out, "          -> listener %s\n", d)
		}
	}
	step("open", s.Open)
	step("inbound", func() error { return s.Inbound(false, []byte("hello")) })
	step("outbound", func() error { return s.Outbound(false, []byte("hello")) })
	for _, id := range s.TimerIDs() {
		step(fmt.Sprintf("timer %d", id), func() error { return s.FireTimer(id) })
	}
	for _, c := range s.Closes() {
		fmt.Fprintf(out, "          module asked to close the socket: %d %q\n", c.Code, c.Reason)
	}
	step("close", func() error { return s.Close(1000, "validate") })
	if failed {
		return errors.New("the module failed the exercise")
	}
	fmt.Fprintln(out, "valid")
	return nil
}
