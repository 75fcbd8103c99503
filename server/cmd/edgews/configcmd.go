package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/edgews/edgews/server"
)

func newConfigCmd() *cobra.Command {
	cfg := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
	}
	cfg.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Check that a config file would start (keys, certificates, modules) and print the effective configuration",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := server.LoadConfig(args[0])
			if err != nil {
				return err
			}
			if err := server.CheckConfig(c); err != nil {
				return err
			}
			out, err := yaml.Marshal(c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# %s is valid; effective configuration:\n%s", args[0], out)
			return nil
		},
	})
	return cfg
}
