package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/altimeter/altimeter/host/auth"
)

// tokenCmd manages API tokens directly in the data directory, so it works
// whether or not the agent runs; a running agent sees changes within a
// second.
func tokenCmd(stdout, stderr io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens in --data-dir (works without the agent)",
	}
	f.register(c, false)

	var (
		project string
		role    string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Issue a token and print it (only this once)",
		Long: `Issue a token and print it (only this once).

A member token sees and writes only its project's data; an admin token sees
every project. In table output the token alone goes to stdout, so
TOKEN=$(altimeter token create --project p) works.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			s, err := openTokens(f.dataDir, stderr)
			if err != nil {
				return err
			}
			tok, p, err := s.Create(cmd.Context(), project, auth.Role(role))
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(stdout, map[string]any{
					"id": p.TokenID, "project": p.Project, "role": p.Role, "token": tok,
				})
			}
			fmt.Fprintf(stderr, "created token %s (role %s, project %q); it is not shown again\n", p.TokenID, p.Role, p.Project)
			_, err = fmt.Fprintln(stdout, tok)
			return err
		},
	}
	create.Flags().StringVar(&project, "project", "", "project the token is confined to (required for member)")
	create.Flags().StringVar(&role, "role", string(auth.RoleMember), "member|admin")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			s, err := openTokens(f.dataDir, stderr)
			if err != nil {
				return err
			}
			toks, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(stdout, toks)
			}
			rows := make([]map[string]any, len(toks))
			for i, t := range toks {
				rows[i] = map[string]any{
					"id": t.ID, "project": t.Project, "role": string(t.Role),
					"created": t.Created.UTC().Format(time.RFC3339),
				}
			}
			return renderTable(stdout, []column{
				{"ID", "id", kindText}, {"PROJECT", "project", kindText},
				{"ROLE", "role", kindText}, {"CREATED", "created", kindTime},
			}, rows)
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; the agent refuses it within a second",
		Args:  exactArg("token ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openTokens(f.dataDir, stderr)
			if err != nil {
				return err
			}
			if err := s.Revoke(cmd.Context(), args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "revoked %s\n", args[0])
			return err
		},
	}
	c.AddCommand(create, list, revoke)
	return c
}

// openTokens opens the token store of dataDir, saying so on stderr when
// that wrote a first admin token.
func openTokens(dataDir string, stderr io.Writer) (*auth.Store, error) {
	adminPath := filepath.Join(dataDir, auth.AdminTokenFile)
	_, statErr := os.Stat(adminPath)
	s, err := auth.Open(dataDir, newLogger(stderr, "warn", false))
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "wrote a new admin token to %s\n", adminPath)
	}
	return s, nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
