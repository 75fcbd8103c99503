package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// adminClient talks to a running node's admin API.
type adminClient struct {
	url   string
	token string
}

func (a *adminClient) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.url, "admin-url", envOr("EDGEWS_ADMIN_URL", "http://127.0.0.1:8081"), "admin API base URL (env EDGEWS_ADMIN_URL)")
	cmd.Flags().StringVar(&a.token, "admin-token", os.Getenv("EDGEWS_ADMIN_TOKEN"), "admin API bearer token (env EDGEWS_ADMIN_TOKEN)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// do calls the API and decodes the answer into out. API errors come back as
// one clear line.
func (a *adminClient) do(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimRight(a.url, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("admin URL %q: %w", a.url, err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the admin API at %s: %w", a.url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func newClientCmds() []*cobra.Command {
	var (
		members, stats, send, exists adminClient
		sendUser, sendCtx, sendPath  string
		sendLocal, sendBinaryB64     bool
		exUser, exCtx, exPath        string
		exLocal, stLocal             bool
	)
	membersCmd := &cobra.Command{
		Use:   "members",
		Short: "List the cluster's members as the node sees them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Members []struct {
					Name, Status, Gossip, WebSocket, Version string
					Self                                     bool
				}
			}
			if err := members.do("GET", "/api/v1/members", nil, &out); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSTATUS\tGOSSIP\tWEBSOCKET\tVERSION")
			for _, m := range out.Members {
				name := m.Name
				if m.Self {
					name += " (self)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, m.Status, m.Gossip, m.WebSocket, m.Version)
			}
			return w.Flush()
		},
	}
	members.register(membersCmd)

	statsCmd := &cobra.Command{
		Use:   "stats",
		Short: "Print the node's (or the cluster's) statistics as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out json.RawMessage
			path := "/api/v1/stats"
			if stLocal {
				path += "?scope=local"
			}
			if err := stats.do("GET", path, nil, &out); err != nil {
				return err
			}
			var pretty bytes.Buffer
			json.Indent(&pretty, out, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), pretty.String())
			return nil
		},
	}
	stats.register(statsCmd)
	statsCmd.Flags().BoolVar(&stLocal, "local", false, "this node only")

	sendCmd := &cobra.Command{
		Use:   "send --context C --user U [--path FILTER] MESSAGE",
		Short: "Send a text message to every socket of a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"context": sendCtx, "user": sendUser, "path": sendPath, "local": sendLocal}
			if sendBinaryB64 {
				body["message_base64"] = args[0]
			} else {
				body["message"] = args[0]
			}
			var out struct{ Sockets, Nodes int }
			if err := send.do("POST", "/api/v1/send", body, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "queued for %d local socket(s) and %d other node(s)\n", out.Sockets, out.Nodes)
			return nil
		},
	}
	send.register(sendCmd)
	sendCmd.Flags().StringVar(&sendCtx, "context", "", "the user's context (required)")
	sendCmd.Flags().StringVar(&sendUser, "user", "", "the user (required)")
	sendCmd.Flags().StringVar(&sendPath, "path", "", `path filter: "/ws", "/socket.io/*" (default: every path)`)
	sendCmd.Flags().BoolVar(&sendLocal, "local", false, "this node only")
	sendCmd.Flags().BoolVar(&sendBinaryB64, "binary-base64", false, "MESSAGE is base64; send it as a binary message")
	sendCmd.MarkFlagRequired("context")
	sendCmd.MarkFlagRequired("user")

	existsCmd := &cobra.Command{
		Use:   "exists --context C --user U [--path FILTER]",
		Short: "Say whether a user has an open socket; exit status 0 yes, 3 no",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{"context": {exCtx}, "user": {exUser}}
			if exPath != "" {
				q.Set("path", exPath)
			}
			if exLocal {
				q.Set("scope", "local")
			}
			var out struct {
				Exists   bool
				Sockets  int
				Complete bool
			}
			if err := exists.do("GET", "/api/v1/exists?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			if !out.Exists {
				fmt.Fprintln(cmd.OutOrStdout(), "no")
				return exitCode(3)
			}
			more := ""
			if !out.Complete {
				more = " (at least)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "yes: %d socket(s)%s\n", out.Sockets, more)
			return nil
		},
	}
	exists.register(existsCmd)
	existsCmd.Flags().StringVar(&exCtx, "context", "", "the user's context (required)")
	existsCmd.Flags().StringVar(&exUser, "user", "", "the user (required)")
	existsCmd.Flags().StringVar(&exPath, "path", "", "path filter (default: every path)")
	existsCmd.Flags().BoolVar(&exLocal, "local", false, "this node only")
	existsCmd.MarkFlagRequired("context")
	existsCmd.MarkFlagRequired("user")

	return []*cobra.Command{membersCmd, statsCmd, sendCmd, existsCmd}
}

// exitCode is an error that sets the process exit status without a message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
